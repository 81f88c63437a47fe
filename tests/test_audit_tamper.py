"""Issue #11 item 3 and 4: rewriting the audit log as someone who can write the database.

Each test performs one rewrite the old unkeyed chain passed as intact, and `verify` must name it.
The last ones hold the key as well: only an exported checkpoint catches them."""

from __future__ import annotations

import multiprocessing as mp
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from gatekeeper.services.audit import AuditFilter, AuditLog
from gatekeeper.storage.audit_chain import ANCHOR_KEY, HEAD_KEY, LEGACY_KEY, Checkpoint, row_digest
from gatekeeper.storage.database import open_database
from gatekeeper.storage.models import AuditEvent, Meta
from gatekeeper.core.types import Verdict

KEY = bytes(range(32))
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def audit(db_url: str) -> AuditLog:
    log = AuditLog(open_database(db_url), KEY)
    for i, (decision, person) in enumerate([("granted", "alice"), ("denied-unknown", None), ("granted", "bob"), ("granted", "alice"), ("error", None), ("granted", "carol")]):
        log.record("front", Verdict(decision, person, 0.95 if person else 0.3, None), at=T0 + timedelta(hours=i))
    assert log.verify() == []
    return log


def _meta(log: AuditLog, key: str) -> str | None:
    with log.sessions() as s:
        row = s.get(Meta, key)
        return row.value if row else None


def _set_meta(log: AuditLog, key: str, value: str | None) -> None:
    with log.sessions.begin() as s:
        if value is None:
            s.execute(delete(Meta).where(Meta.key == key))
        elif s.get(Meta, key) is None:
            s.add(Meta(key=key, value=value))
        else:
            s.execute(update(Meta).where(Meta.key == key).values(value=value))


def _delete_rows(log: AuditLog, condition) -> None:  # type: ignore[no-untyped-def]
    with log.sessions.begin() as s:
        s.execute(delete(AuditEvent).where(condition))


def test_truncation_with_the_head_moved_to_the_new_last_row(audit: AuditLog) -> None:
    _delete_rows(audit, AuditEvent.event_id >= 5)
    with audit.sessions() as s:
        new_last = s.get(AuditEvent, 4)
    _set_meta(audit, HEAD_KEY, f"4:{new_last.row_hash}:{'0' * 64}")  # a pointer without the key's MAC
    assert any("head pointer does not verify" in p for p in audit.verify())
    _set_meta(audit, HEAD_KEY, new_last.row_hash)  # or the old unsealed form
    assert any("unsealed behind keyed rows" in p for p in audit.verify())


def test_truncation_with_the_head_deleted(audit: AuditLog) -> None:
    _delete_rows(audit, AuditEvent.event_id >= 5)
    _set_meta(audit, HEAD_KEY, None)
    assert any("head pointer is missing" in p for p in audit.verify())
    from gatekeeper.storage.audit_chain import AuditTamperError

    with pytest.raises(AuditTamperError):  # and the next append does not chain past the gap
        audit.record("front", Verdict("granted", "alice", None, None))


def test_deleting_everything(audit: AuditLog) -> None:
    _delete_rows(audit, AuditEvent.event_id > 0)
    assert any("head pointer" in p or "missing" in p for p in audit.verify())
    for key in (HEAD_KEY, ANCHOR_KEY, LEGACY_KEY):
        _set_meta(audit, key, None)
    assert any("keying marker is missing" in p for p in audit.verify())


def test_a_faked_purge_anchor(audit: AuditLog) -> None:
    with audit.sessions() as s:
        third = s.get(AuditEvent, 3)
    _delete_rows(audit, AuditEvent.event_id < 3)  # "purge" the first two, without the key
    _set_meta(audit, ANCHOR_KEY, third.prev_hash)
    assert any("purge anchor is unsealed" in p for p in audit.verify())
    _set_meta(audit, ANCHOR_KEY, f"2:{third.prev_hash}:{'1' * 64}")
    assert any("purge anchor does not verify" in p for p in audit.verify())


def test_clearing_a_person_without_an_anonymisation_record(audit: AuditLog) -> None:
    with audit.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.event_id == 3).values(person_id=None, personal_salt=None, anonymised_at=datetime.now(timezone.utc)))
    assert audit.verify() == ["event 3: person cleared without a matching anonymisation record"]


def test_changing_when_a_row_was_anonymised(audit: AuditLog) -> None:
    audit.anonymise("alice", "request 9")
    assert audit.verify() == []
    with audit.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.event_id == 1).values(anonymised_at=T0))
    assert audit.verify() == ["event 1: person cleared without a matching anonymisation record"]


def test_recomputing_the_chain_with_the_public_formula(audit: AuditLog) -> None:
    """The attacker edits a grant and rehashes every row the unkeyed way, head included."""
    with audit.sessions.begin() as s:
        rows = list(s.execute(select(AuditEvent).order_by(AuditEvent.event_id)).scalars())
        rows[2].best_similarity = 0.5
        prev = rows[0].prev_hash
        for row in rows:
            row.prev_hash, row.row_hash = prev, row_digest(row, prev)
            prev = row.row_hash
        s.execute(update(Meta).where(Meta.key == HEAD_KEY).values(value=prev))
    problems = audit.verify()
    assert sum("content does not match its hash" in p for p in problems) == 6, problems
    _set_meta(audit, LEGACY_KEY, "6")  # and claim every row predates keying
    assert audit.verify() == ["unprotected rows: events up to 6 were hashed without the audit key and could have been rewritten; check them, then run `gatekeeper audit seal-legacy`"]


def test_an_append_refuses_a_log_whose_head_was_forged(audit: AuditLog) -> None:
    _set_meta(audit, HEAD_KEY, f"6:{'a' * 64}:{'b' * 64}")
    from gatekeeper.storage.audit_chain import AuditTamperError

    with pytest.raises(AuditTamperError):
        audit.record("front", Verdict("granted", "alice", None, None))


def test_a_checkpoint_catches_a_rewrite_by_someone_who_has_the_key(audit: AuditLog, tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    path.write_text(audit.checkpoint().to_json())
    audit.record("front", Verdict("granted", "dave", None, None))
    assert audit.verify(Checkpoint.read(path)) == []
    # Someone with the key deletes grant 3 and re-chains everything after it, head included.
    insider = AuditLog(audit.sessions, KEY)
    kept = [r for r in audit.query(AuditFilter()) if r.event_id != 3]
    _delete_rows(audit, AuditEvent.event_id > 0)
    _set_meta(audit, HEAD_KEY, None)
    for r in kept:
        insider.record(r.door_id, Verdict(r.decision, r.person_id, r.best_similarity, None), at=r.at)
    assert audit.verify() == [], "with the key, a rewrite verifies on its own ..."
    problems = audit.verify(Checkpoint.read(path))
    assert any("checkpoint" in p for p in problems), problems  # ... but not against the checkpoint


def test_a_forged_checkpoint_file_is_named(audit: AuditLog, tmp_path: Path) -> None:
    cp = audit.checkpoint()
    forged = Checkpoint(cp.event_id, "f" * 64, cp.rows, cp.exported_at, cp.tag)
    assert any("tag does not verify" in p for p in audit.verify(forged))


def test_purge_and_anonymisation_stay_verifiable(audit: AuditLog, tmp_path: Path) -> None:
    cp = audit.checkpoint()
    assert audit.purge(T0 + timedelta(hours=2, minutes=30))[0] == 3
    audit.anonymise("carol", "request 10")
    assert audit.verify() == [] and audit.verify(cp) == []


def _append_many(url: str, door: str, n: int) -> None:
    log = AuditLog(open_database(url), KEY)
    for _ in range(n):
        log.record(door, Verdict("denied-unknown", None, 0.2, None))


def test_two_processes_appending_at_once_do_not_fork_the_chain(tmp_path: Path) -> None:
    """Two daemons on one SQLite database (item 4): 2 x 150 rows, then one unbroken chain."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    AuditLog(open_database(url), KEY).record("admin", Verdict("anonymised", None, None, None, "seed"))
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(url, door, 150)) for door in ("front", "back")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    log = AuditLog(open_database(url), KEY)
    rows = log.query(AuditFilter())
    assert len(rows) == 301
    assert len({r.prev_hash for r in rows}) == 301, "two rows chained to the same predecessor"
    assert log.verify() == []
