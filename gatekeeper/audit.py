"""The audit log: every door decision as a hash-chained row, with queries, exports and checks.

Each row's hash covers its content and the previous row's hash, so editing, deleting, inserting
or reordering rows breaks the chain at a place ``verify`` names. Purging old rows records the last
purged hash as the new anchor, so the remaining chain still verifies.

The person and the snapshot enter the hash through a salted digest (see ``AuditEvent``), so a row
can be anonymised on request, clearing them and the salt, and the chain still verifies.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.storage.models import AuditEvent, Meta

GENESIS = "0" * 64
HEAD_KEY = "audit_head"
ANCHOR_KEY = "audit_anchor"
EXPORT_FIELDS = ["event_id", "at", "door_id", "decision", "person_id", "best_similarity", "second_similarity", "threshold", "margin", "model_version", "quality", "snapshot", "detail", "anonymised_at", "row_hash"]


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    person_id: str | None = None
    decision: str | None = None
    door_id: str | None = None
    limit: int | None = None


def _utc(at: datetime) -> datetime:
    """Aware UTC for storing and filtering; a naive time is taken to be UTC already."""
    return at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _utc_naive(at: datetime) -> datetime:
    """SQLite gives times back without a zone, PostgreSQL with one: hash the same text for both."""
    return _utc(at).replace(tzinfo=None)


def _round(v: float | None) -> float | None:
    return None if v is None else round(float(v), 6)


def _sha256(content: object) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def personal_digest(salt: str, person_id: str | None, snapshot: str | None) -> str:
    return _sha256([salt, person_id, snapshot])


def row_digest(row: AuditEvent, prev_hash: str) -> str:
    content: dict[str, object] = {
        "event_id": row.event_id,
        "at": _utc_naive(row.at).isoformat(timespec="microseconds"),
        "door_id": row.door_id,
        "decision": row.decision,
        "best": _round(row.best_similarity),
        "second": _round(row.second_similarity),
        "threshold": _round(row.threshold),
        "margin": _round(row.margin),
        "model_version": row.model_version,
        "quality": row.quality,
        "detail": row.detail,
        "prev": prev_hash,
    }
    if row.personal_digest is None:  # written before schema revision 0002: fields hashed directly
        content.update(person_id=row.person_id, snapshot=row.snapshot)
    else:
        content["personal"] = row.personal_digest
    return _sha256(content)


def personal_problem(row: AuditEvent) -> str | None:
    """Whether the row's person and snapshot still match the digest its hash covers."""
    if row.personal_digest is None:
        return None
    if row.personal_salt is None:  # anonymised: nothing personal may have come back
        if row.person_id is None and row.snapshot is None:
            return None
    elif personal_digest(row.personal_salt, row.person_id, row.snapshot) == row.personal_digest:
        return None
    return f"event {row.event_id}: person or snapshot does not match its digest (row edited)"


@dataclass(frozen=True)
class Anonymisation:
    rows: int  # rows whose person and snapshot were cleared
    legacy_rows: int  # rows from before revision 0002: their hash covers the person, left named
    snapshots: list[str]  # snapshot files the cleared rows pointed at (for deletion)


class AuditLog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def record(self, *, door_id: str, decision: str, person_id: str | None = None, best: float | None = None, second: float | None = None, threshold: float | None = None, margin: float | None = None, model_version: str | None = None, quality: dict | None = None, snapshot: str | None = None, detail: str | None = None, at: datetime | None = None) -> AuditEvent:
        with self.sessions.begin() as session:
            head = session.execute(select(Meta).where(Meta.key == HEAD_KEY).with_for_update()).scalar_one_or_none()
            prev = head.value if head else self._anchor(session)
            salt = secrets.token_hex(16)
            row = AuditEvent(
                at=_utc(at or datetime.now(timezone.utc)), door_id=door_id, decision=decision, person_id=person_id,
                personal_salt=salt, personal_digest=personal_digest(salt, person_id, snapshot),
                best_similarity=_round(best), second_similarity=_round(second), threshold=_round(threshold), margin=_round(margin),
                model_version=model_version, quality=quality, snapshot=snapshot, detail=detail, prev_hash=prev, row_hash="",
            )
            session.add(row)
            session.flush()  # assigns event_id, which the hash covers (detects reordering)
            row.row_hash = row_digest(row, prev)
            if head is None:
                session.add(Meta(key=HEAD_KEY, value=row.row_hash))
            else:
                head.value = row.row_hash
        return row

    def query(self, f: AuditFilter) -> list[AuditEvent]:
        stmt = select(AuditEvent).order_by(AuditEvent.event_id)
        if f.since:
            stmt = stmt.where(AuditEvent.at >= _utc(f.since))
        if f.until:
            stmt = stmt.where(AuditEvent.at < _utc(f.until))
        for column, value in ((AuditEvent.person_id, f.person_id), (AuditEvent.decision, f.decision), (AuditEvent.door_id, f.door_id)):
            if value:
                stmt = stmt.where(column == value)
        if f.limit:
            stmt = stmt.limit(f.limit)
        with self.sessions() as session:
            return list(session.execute(stmt).scalars())

    def verify(self) -> list[str]:
        """Problems found in the chain, each naming the row; empty when intact."""
        problems = []
        with self.sessions() as session:
            prev = self._anchor(session)
            last_id = None
            for row in session.execute(select(AuditEvent).order_by(AuditEvent.event_id)).scalars():
                if row.prev_hash != prev:
                    problems.append(f"event {row.event_id}: chain broken before this row (a row was deleted, inserted or reordered)")
                if row_digest(row, row.prev_hash) != row.row_hash:
                    problems.append(f"event {row.event_id}: content does not match its hash (row edited)")
                if (personal := personal_problem(row)) is not None:
                    problems.append(personal)
                prev, last_id = row.row_hash, row.event_id
            head = session.get(Meta, HEAD_KEY)
            if head is not None and head.value != prev:
                problems.append(f"rows after event {last_id} are missing (log truncated)")
        return problems

    def purge(self, older_than: datetime) -> tuple[int, list[str]]:
        """Delete rows older than the cut-off; the last deleted hash anchors what remains.

        Returns the number of rows deleted and the snapshot files they pointed at.
        """
        with self.sessions.begin() as session:
            old = session.execute(select(AuditEvent).where(AuditEvent.at < _utc(older_than)).order_by(AuditEvent.event_id.desc()).limit(1)).scalar_one_or_none()
            if old is None:
                return 0, []
            # Purge a contiguous prefix by id, so the chain stays one unbroken run.
            prefix = AuditEvent.event_id <= old.event_id
            snapshots = _snapshot_paths(session, prefix)
            count = session.execute(delete(AuditEvent).where(prefix)).rowcount
            anchor = session.get(Meta, ANCHOR_KEY)
            if anchor is None:
                session.add(Meta(key=ANCHOR_KEY, value=old.row_hash))
            else:
                anchor.value = old.row_hash
        return int(count), snapshots

    def snapshots_older_than(self, cutoff: datetime) -> list[str]:
        with self.sessions() as session:
            return _snapshot_paths(session, AuditEvent.at < _utc(cutoff))

    def snapshots_of(self, person_id: str) -> list[str]:
        with self.sessions() as session:
            return _snapshot_paths(session, AuditEvent.person_id == person_id)

    def anonymise(self, person_id: str, reason: str) -> Anonymisation:
        """Clear the person and snapshot from their rows; decisions, times and scores stay.

        The request itself is logged (without the person), so the log shows that rows were
        anonymised, when, and why.
        """
        named = (AuditEvent.person_id == person_id) & AuditEvent.personal_digest.is_not(None)
        with self.sessions.begin() as session:
            snapshots = _snapshot_paths(session, named)
            legacy = session.execute(select(func.count()).where(AuditEvent.person_id == person_id, AuditEvent.personal_digest.is_(None))).scalar_one()
            cleared = session.execute(update(AuditEvent).where(named).values(person_id=None, snapshot=None, personal_salt=None, anonymised_at=datetime.now(timezone.utc))).rowcount
        if cleared or legacy:
            self.record(door_id="admin", decision="anonymised", detail=f"{cleared} rows anonymised on request ({reason})"[:1000])
        return Anonymisation(int(cleared), legacy, snapshots)

    @staticmethod
    def _anchor(session: Session) -> str:
        row = session.get(Meta, ANCHOR_KEY)
        return row.value if row else GENESIS


def _snapshot_paths(session: Session, rows: ColumnElement[bool]) -> list[str]:
    """The snapshot files that the rows matching ``rows`` point at."""
    return list(session.execute(select(AuditEvent.snapshot).where(rows, AuditEvent.snapshot.is_not(None))).scalars())


def as_dict(row: AuditEvent) -> dict[str, object]:
    out = {name: getattr(row, name) for name in EXPORT_FIELDS}
    out["at"] = _utc_naive(row.at).isoformat(timespec="microseconds") + "Z"
    if row.anonymised_at is not None:
        out["anonymised_at"] = _utc_naive(row.anonymised_at).isoformat(timespec="seconds") + "Z"
    return out


def to_json(rows: list[AuditEvent]) -> str:
    return json.dumps([as_dict(r) for r in rows], indent=2)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A cell a spreadsheet will show as text: ids and door names come from admins and cameras,
    and one starting like a formula (``=HYPERLINK(...)``) would run when the export is opened."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: list[AuditEvent]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for r in rows:
        d = as_dict(r)
        d["quality"] = json.dumps(d["quality"]) if d["quality"] is not None else ""
        writer.writerow({k: spreadsheet_safe(v) for k, v in d.items()})
    return buf.getvalue()


def summary(rows: list[AuditEvent]) -> dict[str, Counter[str]]:
    return {
        "per day": Counter(_utc_naive(r.at).date().isoformat() for r in rows),
        "per person": Counter(r.person_id or "(unknown)" for r in rows),
        "per decision": Counter(r.decision for r in rows),
    }
