"""The access policy at the door, on real faces and a real database: a contractor granted on day
1 and refused after their last day; a lockdown and its release reaching a running daemon from
another process (the CLI); the admin's changes on record; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from gatekeeper.core import Decision
from gatekeeper.core.access import AccessPolicyError
from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.access import parse_instant
from gatekeeper.services.audit import AuditFilter
from gatekeeper.vision.images import read_rgb
from tests.conftest import door_frame, lfw_people
from tests.test_daemon import FlakySource, _enroll_first_usable, _run_in_thread, _visit, _wait_for

UTC = timezone.utc


class Clock:
    """The door's wall clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_contractor_is_granted_on_day_one_and_refused_after_valid_until(lfw: Path, make_app, settings, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Office hours for staff, a contractor for one week (Mon 7 - Fri 11 December 2026, Berlin)."""
    settings.database_url = db_url
    settings.timezone = "Europe/Berlin"
    gk = make_app(settings)
    (name, photos), = lfw_people(lfw, 1, 3, skip=360)
    _enroll_first_usable(gk, name, photos[:2])
    gk.access.set_door(settings.door_id, tz_name="Europe/Berlin")
    gk.access.set_schedule("office", ["mon-fri 07:00-19:00"])
    gk.access.set_group("contractors")
    gk.access.grant("contractors", settings.door_id, "office")
    gk.access.add_members("contractors", [name])
    gk.access.set_validity(name, parse_instant("2026-12-07", "Europe/Berlin"), parse_instant("2026-12-11", "Europe/Berlin", end_of_day=True))
    clock = Clock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))  # Monday 10:00 in Berlin: day 1
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator, clock=clock)
    rng = np.random.default_rng(0)
    day_one = _visit(daemon, photos[0], 0.0, rng)
    assert [v.decision for v in day_one] == [Decision.GRANTED], day_one
    assert actuator.unlocks == [(settings.door_id, name)]
    clock.now = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)  # the next Monday, after valid_until
    later = _visit(daemon, photos[0], 100.0, rng)
    assert [v.decision for v in later] == [Decision.DENIED_NOT_PERMITTED], later
    assert actuator.unlocks == [(settings.door_id, name)]  # the door stayed shut
    row = gk.audit.query(AuditFilter(decision="denied-not-permitted"))[-1]
    assert row.person_id == name and row.detail.startswith("not permitted: expired: access ended 2026-12-12 00:00 CET"), row.detail
    clock.now = datetime(2026, 12, 8, 21, 0, tzinfo=UTC)  # back in the valid week, but 22:00: after office hours
    night = _visit(daemon, photos[0], 200.0, rng)
    assert [v.decision for v in night] == [Decision.DENIED_NOT_PERMITTED] and "outside schedule" in night[0].detail
    answer = gk.access.check(name, settings.door_id, datetime(2026, 12, 14, 9, 0, tzinfo=UTC))
    assert not answer.permitted and answer.reason == row.detail.removeprefix("not permitted: ")  # `access check` says what the door said


def test_every_policy_change_is_an_audited_admin_action_and_bad_ones_write_nothing(make_app, settings) -> None:  # type: ignore[no-untyped-def]
    gk = make_app(settings)
    gk.access.set_door("front", tz_name="America/New_York")
    gk.access.set_schedule("office", ["mon-fri 08:00-18:00"], ["2026-12-25"])
    gk.access.set_group("staff")
    gk.access.grant("staff", "front", "office")
    gk.access.lockdown("front", True)
    gk.access.lockdown("front", False)
    rows = gk.audit.query(AuditFilter(door_id="admin"))
    assert [r.decision for r in rows] == ["access-changed"] * 4 + ["lockdown", "released"]
    assert all(r.actor for r in rows) and gk.audit.verify() == []
    before = len(gk.audit.query(AuditFilter()))
    generation = gk.access.policy().generation
    for bad in (
        lambda: gk.access.set_schedule("night", ["fri 22:00-22:00"]),
        lambda: gk.access.set_schedule("always", ["mon 08:00-09:00"]),
        lambda: gk.access.set_door("back", tz_name="Mars/Olympus"),
        lambda: gk.access.set_door("../../etc", tz_name="UTC"),
        lambda: gk.access.grant("staff", "front", "no-such-schedule"),
        lambda: gk.access.grant("staff", "no-such-door", "office"),
        lambda: gk.access.add_members("staff", ["nobody-enrolled"]),
        lambda: gk.access.set_validity("nobody-enrolled", None, None, clear=True),
        lambda: gk.access.revoke("staff", "front", "always"),
    ):
        with pytest.raises(AccessPolicyError):
            bad()
    assert len(gk.audit.query(AuditFilter())) == before  # nothing half-written
    assert gk.access.policy().generation == generation
    assert {s for s, _ in gk.access.schedules()} == {"always", "office"}


def test_a_lockdown_reaches_a_running_daemon_and_its_release_too(lfw: Path, make_app, settings, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The admin locks the door down from another process while it runs: staff are refused
    (denied-not-permitted) until the release, then granted again."""
    settings.cooldown_s = 0.0
    settings.database_url = db_url
    gk = make_app(settings)
    (name, photos), = lfw_people(lfw, 1, 3, skip=370)
    _enroll_first_usable(gk, name, photos[:1])
    frames = [door_frame(read_rgb(photos[0]), np.random.default_rng(i)) for i in range(12)]
    empty = [np.full((480, 640, 3), 110, np.uint8)] * 30  # visits separated by an empty doorway
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    thread, stop = _run_in_thread(daemon, FlakySource(frames + empty, drop_after=10**9))
    env = {**os.environ, "GATEKEEPER_DATABASE_URL": db_url, "GATEKEEPER_DATA_DIR": str(tmp_path / "admin"), "GATEKEEPER_AUDIT_KEY_FILE": str(settings.data_dir / "audit.key")}

    def cli(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "gatekeeper", *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def decisions_after(event: int, decision: str) -> bool:
        return any(r.event_id > event for r in gk.audit.query(AuditFilter(decision=decision)))

    try:
        assert _wait_for(lambda: actuator.unlocks, timeout=60)
        cli("door", "lockdown", settings.door_id)
        locked_at = max(r.event_id for r in gk.audit.query(AuditFilter(decision="lockdown")))
        assert _wait_for(lambda: decisions_after(locked_at, "denied-not-permitted"), timeout=60)
        unlocks, seen = len(actuator.unlocks), daemon.stats.frames
        assert _wait_for(lambda: daemon.stats.frames >= seen + len(frames) + len(empty), timeout=60)  # a whole visit more, not a guessed time
        assert len(actuator.unlocks) == unlocks  # nobody got in during the lockdown
        refused = gk.audit.query(AuditFilter(decision="denied-not-permitted"))[-1]
        assert refused.person_id == name and "door in lockdown" in refused.detail
        cli("door", "release", settings.door_id)
        released_at = max(r.event_id for r in gk.audit.query(AuditFilter(decision="released")))
        assert _wait_for(lambda: decisions_after(released_at, "granted"), timeout=60)
    finally:
        stop.set()
        thread.join(timeout=10)


def test_access_check_explains_on_the_command_line(lfw: Path, make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gk = make_app(settings)
    (name, photos), = lfw_people(lfw, 1, 3, skip=380)
    _enroll_first_usable(gk, name, photos[:1])
    env = {**os.environ, "GATEKEEPER_DATA_DIR": str(settings.data_dir), "GATEKEEPER_TIMEZONE": "Europe/Berlin"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gatekeeper", *args], env=env, capture_output=True, text=True, timeout=120)

    assert cli("access", "check", name, "front").returncode == 0  # no policy yet: everyone, every door
    for args in (
        ("access", "door", "set", "front"),
        ("access", "schedule", "set", "office", "--window", "mon-fri 08:00-18:00", "--holiday", "2026-12-25"),
        ("access", "group", "set", "staff"),
        ("access", "grant", "staff", "front", "--schedule", "office"),
        ("access", "members", "add", "staff", name),
    ):
        assert cli(*args).returncode == 0, args
    inside = cli("access", "check", name, "front", "--at", "2026-12-07T09:30")
    assert inside.returncode == 0 and "permitted" in inside.stdout and "group staff, schedule office" in inside.stdout, inside.stdout
    holiday = cli("access", "check", name, "front", "--at", "2026-12-25T09:30")
    assert holiday.returncode == 1 and "outside schedule" in holiday.stdout and "Fri 2026-12-25 09:30 CET" in holiday.stdout, holiday.stdout
    assert cli("access", "validity", name, "--until", "2026-12-11").returncode == 0
    expired = cli("access", "check", name, "front", "--at", "2026-12-14T09:30")
    assert expired.returncode == 1 and "expired" in expired.stdout
    assert cli("access", "suspend", name).returncode == 0
    assert "suspended" in cli("access", "check", name, "front", "--at", "2026-12-08T09:30").stdout
    bad = cli("access", "schedule", "set", "x", "--window", "someday 08:00-09:00")
    assert bad.returncode == 2 and "unknown day" in bad.stderr


def test_upgrading_a_0007_database_keeps_every_person_and_photo(tmp_path: Path) -> None:
    """Schema 0008 adds validity columns to ``people``: added in place, never by rebuilding the
    table (with foreign keys on, dropping it would cascade into every enrolled photo)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, event, text

    from gatekeeper.storage.database import MIGRATIONS, open_database

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    event.listen(engine, "connect", lambda conn, _rec: conn.execute("PRAGMA foreign_keys=ON"))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")
        conn.exec_driver_sql("INSERT INTO people (person_id, name, vector_id, template, model_version, created_at, updated_at) VALUES ('emp-1', 'Ada', 1, x'00', 'm', '2026-01-01', '2026-01-01')")
        for i in range(3):
            conn.exec_driver_sql("INSERT INTO photos (person_id, source, sha256, embedding, model_version, quality, created_at) VALUES ('emp-1', ?, 'h', x'00', 'm', '{}', '2026-01-01')", (f"p{i}.jpg",))
    engine.dispose()
    sessions = open_database(url)  # migrates to head
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM photos")).scalar_one() == 3
    from gatekeeper.services.access import AccessAdmin

    view = AccessAdmin(sessions, None, "test").person("emp-1")  # type: ignore[arg-type]
    assert (view.suspended, view.valid_from, view.valid_until, view.groups) == (False, None, None, [])


def test_a_date_only_end_is_the_end_of_that_day_at_each_door(make_app, settings) -> None:  # type: ignore[no-untyped-def]
    """The site runs in UTC; doors in Tokyo, Los Angeles and Berlin. `validity --until 2026-12-11`
    means the 11th is the last day in, by each door's own calendar (and across a DST change)."""
    from gatekeeper.services.access import parse_bound

    gk = make_app(settings.model_copy(update={"timezone": "UTC"}))
    with gk.sessions.begin() as s:
        from gatekeeper.storage.models import Person

        s.add(Person(person_id="contractor-1", name="c", vector_id=1, template=b"", model_version="m"))
    for door, tz in (("tokyo", "Asia/Tokyo"), ("la", "America/Los_Angeles"), ("berlin", "Europe/Berlin")):
        gk.access.set_door(door, tz_name=tz)
    gk.access.set_validity("contractor-1", parse_bound("2026-12-07", "UTC"), parse_bound("2026-12-11", "UTC"))
    at = lambda text: datetime.fromisoformat(text)  # noqa: E731
    cases = [
        ("tokyo", "2026-12-12T08:30+09:00", False),  # the 12th in Tokyo (still the 11th in UTC): over
        ("tokyo", "2026-12-11T23:30+09:00", True),
        ("tokyo", "2026-12-07T00:30+09:00", True),  # the 7th in Tokyo (the 6th in UTC): the first day
        ("la", "2026-12-11T23:30-08:00", True),  # the 11th in LA (the 12th in UTC): still in
        ("la", "2026-12-12T00:30-08:00", False),
        ("la", "2026-12-06T23:30-08:00", False),  # the 6th in LA: not yet
    ]
    for door, when, permitted in cases:
        answer = gk.access.check("contractor-1", door, at(when))
        assert answer.permitted is permitted, (door, when, answer.reason)
    gk.access.set_validity("contractor-1", None, parse_bound("2026-03-29", "UTC"), clear=True)  # Berlin moves its clocks that day
    assert gk.access.check("contractor-1", "berlin", at("2026-03-29T23:59+02:00")).permitted
    refused = gk.access.check("contractor-1", "berlin", at("2026-03-30T00:01+02:00"))
    assert not refused.permitted and "access ended with 2026-03-29 (Europe/Berlin at this door)" in refused.reason
    assert gk.access.person("contractor-1").valid_until == date(2026, 3, 29)


def test_a_door_name_cannot_carry_terminal_or_bidi_controls(make_app) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.core.access import AccessPolicyError

    gk = make_app()
    for name in ("Front\x1b[2J", "Lobby\u202e", "bell\x07"):
        with pytest.raises(AccessPolicyError, match="control or invisible"):
            gk.access.set_door("front", name=name)
    gk.access.set_door("front", name="Front door, ground floor")
