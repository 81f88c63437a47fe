"""Fail-closed under faults outside the camera: a broken model file, a missing database, a full
disk, a database that disappears mid-run, an actuator that hangs. Each ends in no unlock and a
logged error; the daemon keeps serving when it can. Faces: the demo's public-domain portraits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from gatekeeper.door.actuate import CommandActuator, LogOnlyActuator
from gatekeeper.services.audit import AuditFilter
from gatekeeper.config import Settings
from gatekeeper.core import Decision
from gatekeeper.demo import astronaut, visitor_frame
from gatekeeper.vision.encoder import MODELS_DIR

REPO = Path(__file__).resolve().parents[1]
COLLINS = "eileen-collins"


def _enroll_collins(gk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    photo = tmp_path / "collins.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    assert gk.enrollment.enroll(COLLINS, "Eileen Collins", [gk.enrollment.embed_photo(photo)]).enrolled


def _visit(daemon, start: float, seed: int = 0) -> list:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return [v for i in range(4) for v in daemon.process_frame(visitor_frame(astronaut(), 430, rng), start + 0.1 * i)]


def _gatekeeper(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gatekeeper", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
@pytest.mark.parametrize(("damaged", "precision"), [("doornet-v2.pt", "fp32"), ("doornet-v2-int8.onnx", "int8"), ("doornet-v2-int8.onnx", "auto")])
def test_broken_model_file_refuses_to_start(make_app, settings, tmp_path: Path, damage: str, damaged: str, precision: str) -> None:  # type: ignore[no-untyped-def]
    """The file the door would run is damaged: the weights (fp32) or their int8 export (int8, and
    auto, which takes the export the manifest names)."""
    make_app(settings).sessions  # an existing database, so the model is what fails
    models = tmp_path / "models"
    models.mkdir()
    for name in ("doornet-v2.pt", "doornet-v2.json", "doornet-v2-int8.onnx"):
        shutil.copy(MODELS_DIR / name, models / name)
    broken = models / damaged
    whole = broken.read_bytes()
    broken.write_bytes(os.urandom(4096) if damage == "garbage" else whole[: len(whole) // 2])
    env = {"GATEKEEPER_DATA_DIR": str(settings.data_dir), "GATEKEEPER_MODEL": str(models / "doornet-v2.pt"), "GATEKEEPER_ENCODER_PRECISION": precision}
    done = _gatekeeper("run", "--source", str(tmp_path), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    said = " ".join(done.stderr.split())  # Rich may wrap the line
    assert f"{broken}: " in said and "sha256" in said, said
    assert "UNLOCK" not in done.stdout + done.stderr


def test_missing_database_refuses_to_start_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "typo-data-dir"
    done = _gatekeeper("run", "--source", str(tmp_path), env={"GATEKEEPER_DATA_DIR": str(data)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "does not exist" in done.stderr
    assert not (data / "gatekeeper.db").exists()


def _full_disk_child(data_dir: str) -> None:
    """Runs in its own process: RLIMIT_FSIZE=0 makes every file write fail as on a full disk."""
    import logging
    import resource
    import signal

    from gatekeeper.app import App

    logging.basicConfig(level=logging.INFO)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
    gk = App(Settings(data_dir=Path(data_dir), unknown_log_interval_s=0.0, door_id="test-door"), create_database=False)
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
    full = [str(v.decision) for v in _visit(daemon, 0.0)]
    unlocks_while_full = len(actuator.unlocks)
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space freed
    later = [str(v.decision) for v in _visit(daemon, 100.0, seed=1)]
    print(json.dumps({"full": full, "unlocks_while_full": unlocks_while_full, "later": later, "unlocks": actuator.unlocks, "errors": daemon.stats.errors}))


def test_full_disk_keeps_the_door_shut_and_recovers(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gk = make_app(settings)
    _enroll_collins(gk, tmp_path)
    gk.gallery()  # the index file exists: the child only reads while the disk is "full"
    code = f"from tests.test_daemon_faults import _full_disk_child; _full_disk_child({str(settings.data_dir)!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["unlocks_while_full"] == 0  # the grant could not be recorded, so the door stayed shut
    assert "error" in out["full"] and out["errors"] >= 1
    assert "database or disk is full" in done.stderr or "disk I/O error" in done.stderr, done.stderr[-3000:]
    assert "could not write the error to the audit log" in done.stderr  # logged where it still can be
    assert out["later"] == ["granted"] and out["unlocks"] == [["test-door", COLLINS]]  # serving again
    granted = gk.audit.query(AuditFilter(decision="granted"))
    assert [r.person_id for r in granted] == [COLLINS] and gk.audit.verify() == []


def test_database_dropped_mid_run_fails_closed(make_app, settings, db_url: str, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: the doors' shared database disappears under a running daemon."""
    if not db_url.startswith("postgresql"):
        pytest.skip("dropping a database under open connections is the PostgreSQL case; SQLite is covered by the full-disk test")
    import sqlalchemy as sa

    settings.database_url = db_url
    gk = make_app(settings)
    _enroll_collins(gk, tmp_path)
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    admin = sa.create_engine(db_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{db_url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()
    verdicts = _visit(daemon, 0.0) + _visit(daemon, 100.0, seed=1)  # the daemon does not die
    assert actuator.unlocks == []
    assert Decision.ERROR in [v.decision for v in verdicts]
    assert "could not write the error to the audit log" in caplog.text


def test_actuator_that_hangs_times_out_and_the_door_stays_shut(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gk = make_app(settings)
    _enroll_collins(gk, tmp_path)
    daemon = gk.daemon(CommandActuator("sleep 30", timeout_s=0.5))
    started = time.monotonic()
    verdicts = _visit(daemon, 0.0)
    assert time.monotonic() - started < 15  # not stuck for the 30 s the relay script hangs
    assert [v.decision for v in verdicts] == [Decision.GRANTED]  # the policy said yes ...
    rows = gk.audit.query(AuditFilter(door_id="test-door"))
    assert [r.decision for r in rows] == ["granted", "error"]  # ... the grant was recorded first, then the failure
    assert "timed out" in rows[1].detail and "door not opened" in rows[1].detail and rows[1].person_id == COLLINS
