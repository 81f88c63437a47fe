"""Privacy: removing a person deletes their vectors and the snapshots of their face; on request
their audit rows are anonymised, keeping decisions and a verifiable chain. Real faces: the
public-domain portraits the demo uses (no datasets needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.audit import AuditFilter
from gatekeeper.cli import app as cli
from gatekeeper.demo import astronaut, grace_hopper, visitor_frame
from gatekeeper.services.privacy import anonymise_person
from gatekeeper.storage.models import Person, Photo

COLLINS = "eileen-collins"
DOOR = "test-door"  # the door's rows; the admin rows (enrolled, removed, ...) are on door "admin"


def _door_with_snapshots(make_app, settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Collins enrolled; she and Grace Hopper (a stranger) visit the door, snapshots on."""
    settings.snapshots = True
    gk = make_app(settings)
    photo = tmp_path / "collins.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    assert gk.enrollment.enroll(COLLINS, "Eileen Collins", [gk.enrollment.embed_photo(photo)]).enrolled
    daemon = gk.daemon(LogOnlyActuator())
    rng = np.random.default_rng(1)
    for i in range(4):
        daemon.process_frame(visitor_frame(astronaut(), 430, rng), 0.1 * i)
    for i in range(4):
        daemon.process_frame(visitor_frame(grace_hopper(), 380, rng), 100 + 0.1 * i)
    rows = gk.audit.query(AuditFilter(door_id=DOOR))
    assert [(r.decision, r.person_id, r.nearest_id) for r in rows] == [("granted", COLLINS, None), ("denied-unknown", None, COLLINS)]
    assert all(r.snapshot and Path(r.snapshot).is_file() for r in rows)
    return gk, rows


def test_removal_deletes_vectors_and_snapshots_but_keeps_the_decisions(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gk, (granted, stranger) = _door_with_snapshots(make_app, settings, tmp_path)
    report = gk.forget(COLLINS)
    assert report.removed and report.snapshots_deleted == 1 and not report.snapshot_failures
    assert not Path(granted.snapshot).exists()
    assert Path(stranger.snapshot).is_file()  # someone else's picture is not hers to delete
    with gk.sessions() as s:
        assert s.query(Person).count() == 0 and s.query(Photo).count() == 0
    assert len(gk.gallery()) == 0
    assert [r.person_id for r in gk.audit.query(AuditFilter(door_id=DOOR))] == [COLLINS, None]  # named until asked
    assert gk.audit.verify() == []


def test_anonymisation_on_request_clears_the_person_from_the_log(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gk, (granted, _) = _door_with_snapshots(make_app, settings, tmp_path)
    report = anonymise_person(gk.audit, COLLINS, "GDPR request 2026-114")
    # Her enrollment row, her grant, and the stranger's refusal that named her as the nearest match:
    # that row is cleared whole, so its snapshot (of the stranger) goes too.
    assert (report.audit_rows_anonymised, report.snapshots_deleted) == (3, 2)
    assert not Path(granted.snapshot).exists()
    rows = gk.audit.query(AuditFilter(door_id=DOOR))
    assert [(r.decision, r.person_id, r.nearest_id, r.snapshot) for r in rows] == [("granted", None, None, None), ("denied-unknown", None, None, None)]
    assert rows[0].best_similarity > 0.9 and rows[0].anonymised_at is not None
    (request,) = gk.audit.query(AuditFilter(decision="anonymised"))
    assert COLLINS not in request.detail and "GDPR request 2026-114" in request.detail
    assert gk.audit.verify() == []


def test_cli_remove_with_anonymise_audit(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gk, (granted, _) = _door_with_snapshots(make_app, settings, tmp_path)
    env = {"GATEKEEPER_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(cli, ["people", "remove", COLLINS, "--anonymise-audit", "--reason", "left the company"], env=env)
    assert result.exit_code == 0, result.output
    assert f"removed {COLLINS}" in result.output and "audit rows anonymised: 4" in result.output  # enrolled, granted, nearest, removed
    assert gk.audit.query(AuditFilter(person_id=COLLINS)) == []
    assert not Path(granted.snapshot).exists()
    verify = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert verify.exit_code == 0 and "intact" in verify.output
    again = CliRunner().invoke(cli, ["people", "remove", COLLINS], env=env)
    assert again.exit_code == 1 and "no enrolled person" in again.output


def test_purge_deletes_the_snapshots_of_purged_rows(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta, timezone

    gk, rows = _door_with_snapshots(make_app, settings, tmp_path)
    env = {"GATEKEEPER_DATA_DIR": str(settings.data_dir)}
    cutoff = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    result = CliRunner().invoke(cli, ["audit", "purge", "--older-than", cutoff], env=env)
    assert result.exit_code == 0 and "purged 3 rows" in result.output and "2 snapshots" in result.output, result.output  # the enrollment row too
    assert not any(Path(r.snapshot).exists() for r in rows)
    assert gk.audit.verify() == []


def test_cli_refuses_unknown_person_and_bad_ages(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gk, rows = _door_with_snapshots(make_app, settings, tmp_path)
    env = {"GATEKEEPER_DATA_DIR": str(settings.data_dir)}
    unknown = CliRunner().invoke(cli, ["audit", "anonymise", "--person", "nobody", "--reason", "typo"], env=env)
    assert unknown.exit_code == 1 and "no audit rows name 'nobody'" in unknown.output
    bad_age = CliRunner().invoke(cli, ["audit", "purge", "--older-than", "ninety days"], env=env)
    assert bad_age.exit_code == 2 and "is not an age" in bad_age.output
    assert len(gk.audit.query(AuditFilter(door_id=DOOR))) == 2 and all(Path(r.snapshot).is_file() for r in rows)  # nothing touched


def test_a_snapshot_path_pointing_outside_the_snapshot_folder_is_never_deleted_or_read(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Someone who can write the database points Collins's snapshot at another file: removing her
    must not delete it, and `audit snapshot` must not copy it out."""
    from sqlalchemy import update

    from gatekeeper.storage.models import AuditEvent

    gk, (granted, _) = _door_with_snapshots(make_app, settings, tmp_path)
    precious = tmp_path / "precious.txt"
    precious.write_text("not a snapshot")
    with gk.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.event_id == granted.event_id).values(snapshot=str(precious)))
    out = CliRunner().invoke(cli, ["audit", "snapshot", str(granted.event_id), "--out", str(tmp_path / "copy.jpg")], env={"GATEKEEPER_DATA_DIR": str(settings.data_dir)})
    assert out.exit_code == 1 and "outside the snapshot folder" in out.output and not (tmp_path / "copy.jpg").exists()
    report = gk.forget(COLLINS)
    assert report.removed and precious.read_text() == "not a snapshot"
    assert any("outside the snapshot folder" in f for f in report.snapshot_failures)
