"""The audit log: every door decision as a keyed, hash-chained row, with queries, exports and checks.

Each row's HMAC-SHA256, under a key kept outside the database (``storage/keys.py``), covers every
column and the previous row's hash, so editing, deleting, inserting or reordering rows breaks the
chain at a place ``verify`` names, and someone who can write the database but not read the key
cannot recompute it. The head, the purge anchor and the id up to which rows predate keying are
kept as sealed pointers (``id:hash:mac``) in the meta table, so truncating the log or faking a
purge is noticed too. ``checkpoint`` exports the head for a deployment to ship off the box; a
checkpoint proves every row up to it even against someone who has the key.

The person and the snapshot enter the hash through a salted digest (see ``AuditEvent``), so a row
can be anonymised on request, clearing them and the salt; the ``anonymised`` row that does it
lists the rows and the time (``covers``), so a row cleared any other way is named.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.storage.audit_chain import ChainCheck, ChainWriter, Checkpoint, as_utc, as_utc_naive, round_score
from gatekeeper.core.types import Decision, Verdict
from gatekeeper.storage.database import take_write_lock
from gatekeeper.storage.models import AuditEvent
from gatekeeper.errors import InputError
from gatekeeper.storage.templates import TemplateCodec, derive_key

EXPORT_FIELDS = ["event_id", "at", "door_id", "decision", "person_id", "best_similarity", "second_similarity", "threshold", "margin", "model_version", "quality", "snapshot", "detail", "nearest_id", "actor", "anonymised_at", "row_hash"]


ADMIN_DOOR = "admin"  # the door column of rows that record what an admin did


def os_user() -> str:
    """Who runs this process, for admin rows written from the command line."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return f"uid {os.getuid()}"


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    person_id: str | None = None
    decision: str | None = None
    door_id: str | None = None
    limit: int | None = None
    nearest_id: str | None = None  # refusals whose nearest enrolled person this was


@dataclass(frozen=True)
class Anonymisation:
    rows: int  # rows whose person and snapshot were cleared
    legacy_rows: int  # rows from before revision 0002: their hash covers the person, left named
    snapshots: list[str]  # snapshot files the cleared rows pointed at (for deletion)


SNAPSHOT_PURPOSE = "door snapshot seal"
_SNAPSHOT_TAG = b"GKsn"


@dataclass(frozen=True)
class Reading:
    """What a door decided with, beside the verdict: its yardsticks and the face's evidence."""

    threshold: float | None = None
    margin: float | None = None
    model_version: str | None = None
    quality: dict | None = None
    snapshot: str | None = None


class AuditLog:
    def __init__(self, sessions: sessionmaker[Session], key: bytes, snapshot_dir: Path | None = None) -> None:
        self.sessions = sessions
        self._key = key
        self._chain = ChainWriter(key)
        # Where snapshot files may live: a path a row names elsewhere (a database writer's doing)
        # is never read or deleted on its say-so.
        self.snapshot_dir = snapshot_dir.resolve() if snapshot_dir is not None else None

    def derived_key(self, purpose: str) -> bytes:
        """A Fernet key for ``purpose`` derived from the audit key: a secret kept outside the
        database, so whoever can only read (or even write) the database cannot make it."""
        return derive_key(self._key, purpose)

    def owns_snapshot(self, path: str) -> bool:
        if self.snapshot_dir is None:
            return True
        return Path(path).resolve().is_relative_to(self.snapshot_dir)

    def record(self, door_id: str, verdict: Verdict, reading: Reading = Reading(), at: datetime | None = None) -> AuditEvent:
        """A door's decision as a row, committed before this returns (the door unlocks after it)."""
        with self.sessions.begin() as session:
            take_write_lock(session)  # before the head is read: two writers must not fork the chain
            return self._chain.append(session, door_id=door_id, decision=verdict.decision, person_id=verdict.person_id, nearest_id=verdict.nearest,
                                      best_similarity=round_score(verdict.best), second_similarity=round_score(verdict.second), threshold=round_score(reading.threshold),
                                      margin=round_score(reading.margin), model_version=reading.model_version, quality=reading.quality, snapshot=reading.snapshot,
                                      detail=verdict.detail or None, at=as_utc(at or datetime.now(timezone.utc)))

    def admin_action(self, session: Session, action: Decision, actor: str, person_id: str | None = None, detail: str | None = None, model_version: str | None = None) -> AuditEvent:
        """An admin's change as a row of the chain, inside the transaction that makes the change
        (``session`` already holds the write lock): the change and its record commit together or
        not at all. Details never carry names: the person column is what anonymisation clears."""
        return self._chain.append(session, door_id=ADMIN_DOOR, decision=action, person_id=person_id, detail=detail, model_version=model_version, actor=actor[:128], at=datetime.now(timezone.utc))

    def seal_legacy(self) -> int:
        """After an admin has checked them: protect the rows written before the chain was keyed
        by sealing the marker (and an old purge anchor). Refused when they do not verify."""
        with self.sessions.begin() as session:
            take_write_lock(session)
            return self._chain.seal_legacy(session)

    def query(self, f: AuditFilter) -> list[AuditEvent]:
        stmt = _filtered(select(AuditEvent), f).order_by(AuditEvent.event_id)
        if f.limit:
            stmt = stmt.limit(f.limit)
        with self.sessions() as session:
            return list(session.execute(stmt).scalars())

    def after(self, event_id: int, limit: int = 100) -> list[AuditEvent]:
        """Door decisions written after ``event_id``, oldest first (the console's live view)."""
        with self.sessions() as session:
            stmt = select(AuditEvent).where(AuditEvent.event_id > event_id, AuditEvent.door_id != ADMIN_DOOR).order_by(AuditEvent.event_id).limit(limit)
            return list(session.execute(stmt).scalars())

    def last_event_id(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.max(AuditEvent.event_id))) or 0)

    def page(self, f: AuditFilter, limit: int, offset: int = 0) -> tuple[list[AuditEvent], int]:
        """One page of matching rows, newest first, and how many match (the console's view)."""
        with self.sessions() as session:
            rows = session.execute(_filtered(select(AuditEvent), f).order_by(AuditEvent.event_id.desc()).limit(limit).offset(offset)).scalars()
            total = session.scalar(_filtered(select(func.count()).select_from(AuditEvent), f))
            return list(rows), int(total or 0)

    def verify(self, checkpoint: "Checkpoint | None" = None) -> list[str]:
        """Problems found in the chain, each naming the row; empty when intact."""
        with self.sessions() as session:
            return ChainCheck(self._key, session).run(checkpoint)

    def checkpoint(self) -> "Checkpoint":
        """The current head, MAC'd, for shipping off the box (`audit verify --checkpoint`)."""
        with self.sessions() as session:
            last = session.execute(select(AuditEvent).order_by(AuditEvent.event_id.desc()).limit(1)).scalar_one_or_none()
            count = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        if last is None:
            raise InputError("the audit log is empty: nothing to checkpoint yet")
        return Checkpoint.make(self._key, last.event_id, last.row_hash, int(count))

    def purge(self, older_than: datetime, actor: str | None = None) -> tuple[int, list[str]]:
        """Delete rows older than the cut-off; the last deleted hash anchors what remains, and a
        ``purged`` row records it.

        Returns the number of rows deleted and the snapshot files they pointed at.
        """
        with self.sessions.begin() as session:
            take_write_lock(session)
            old = session.execute(select(AuditEvent).where(AuditEvent.at < as_utc(older_than)).order_by(AuditEvent.event_id.desc()).limit(1)).scalar_one_or_none()
            if old is None:
                return 0, []
            # Purge a contiguous prefix by id, so the chain stays one unbroken run.
            prefix = AuditEvent.event_id <= old.event_id
            snapshots = _snapshot_paths(session, prefix)
            self._chain.head(session)  # refuse to purge a log whose head does not verify
            count = session.execute(delete(AuditEvent).where(prefix)).rowcount
            self._chain.anchor(session, old.event_id, old.row_hash)
            self._chain.append(session, door_id=ADMIN_DOOR, decision=Decision.PURGED, detail=f"{count} rows up to event {old.event_id} purged (retention)",
                         at=datetime.now(timezone.utc), covers={"through_event": old.event_id, "rows": int(count)}, actor=actor or os_user())
        return int(count), snapshots

    def snapshot_jpeg(self, event_id: int, codec: TemplateCodec) -> bytes:
        """The face snapshot of one row as JPEG bytes (opened with the template key when sealed);
        a refusal naming the reason when the row has none, or names a file outside the folder."""
        with self.sessions() as session:
            row = session.get(AuditEvent, event_id)
        if row is None or not row.snapshot:
            raise InputError(f"event {event_id} has no snapshot")
        if not self.owns_snapshot(row.snapshot):
            raise InputError(f"event {event_id} names {row.snapshot}, outside the snapshot folder: not read")
        try:
            data = Path(row.snapshot).read_bytes()
        except OSError as exc:
            raise InputError(f"event {event_id}: snapshot {row.snapshot}: {exc.strerror or exc}") from exc
        if not row.snapshot.endswith(".sealed"):
            return data  # written in the clear by an older release
        if data.startswith(_SNAPSHOT_TAG):
            try:
                return Fernet(self.derived_key(SNAPSHOT_PURPOSE)).decrypt(data[len(_SNAPSHOT_TAG) :])
            except InvalidToken as exc:
                raise InputError(f"event {event_id}: snapshot {row.snapshot} does not open with this installation's audit key") from exc
        return codec.unseal(data)

    def seal_snapshot(self, jpeg: bytes, codec: TemplateCodec) -> bytes:
        """A face snapshot as it is written: sealed with the template key when one is set, else
        with a key derived from the audit key (outside the database). Never a face in the clear."""
        if codec.encrypting:
            return codec.seal(jpeg)
        return _SNAPSHOT_TAG + Fernet(self.derived_key(SNAPSHOT_PURPOSE)).encrypt(jpeg)

    def snapshots_older_than(self, cutoff: datetime) -> list[str]:
        with self.sessions() as session:
            return _snapshot_paths(session, AuditEvent.at < as_utc(cutoff))

    def snapshots_of(self, person_id: str) -> list[str]:
        """Snapshots of rows about the person (their grants): what removing them deletes."""
        with self.sessions() as session:
            return _snapshot_paths(session, AuditEvent.person_id == person_id)

    def snapshots_naming(self, person_id: str) -> list[str]:
        """Snapshots of every row that names the person, as who it is about or as a refused
        face's nearest match: anonymising clears those rows whole, so their files go too."""
        with self.sessions() as session:
            return _snapshot_paths(session, _naming(person_id))

    def anonymise(self, person_id: str, reason: str, actor: str | None = None) -> Anonymisation:
        """Clear the person and snapshot from their rows; decisions, times and scores stay.

        The request itself is logged in the same transaction (without the person), naming the
        rows and the time, so the log shows which rows were anonymised, when, and why.
        """
        named = _naming(person_id) & AuditEvent.personal_digest.is_not(None)
        now = datetime.now(timezone.utc)
        with self.sessions.begin() as session:
            take_write_lock(session)
            snapshots = _snapshot_paths(session, named)
            legacy = session.execute(select(func.count()).where(AuditEvent.person_id == person_id, AuditEvent.personal_digest.is_(None))).scalar_one()
            events = list(session.execute(select(AuditEvent.event_id).where(named).order_by(AuditEvent.event_id)).scalars())
            if events:
                session.execute(update(AuditEvent).where(AuditEvent.event_id.in_(events)).values(person_id=None, nearest_id=None, snapshot=None, personal_salt=None, anonymised_at=now))
            if events or legacy:
                self._chain.append(session, door_id=ADMIN_DOOR, decision=Decision.ANONYMISED, detail=f"{len(events)} rows anonymised on request ({reason})"[:1000], at=now,
                             covers={"events": events, "at": as_utc_naive(now).isoformat(timespec="microseconds")}, actor=actor or os_user())
        return Anonymisation(len(events), legacy, snapshots)


def _filtered(stmt: Select, f: AuditFilter) -> Select:  # type: ignore[type-arg]
    if f.since:
        stmt = stmt.where(AuditEvent.at >= as_utc(f.since))
    if f.until:
        stmt = stmt.where(AuditEvent.at < as_utc(f.until))
    for column, value in ((AuditEvent.person_id, f.person_id), (AuditEvent.decision, f.decision), (AuditEvent.door_id, f.door_id), (AuditEvent.nearest_id, f.nearest_id)):
        if value:
            stmt = stmt.where(column == value)
    return stmt


def _naming(person_id: str) -> ColumnElement[bool]:
    return (AuditEvent.person_id == person_id) | (AuditEvent.nearest_id == person_id)


def _snapshot_paths(session: Session, rows: ColumnElement[bool]) -> list[str]:
    """The snapshot files that the rows matching ``rows`` point at."""
    return list(session.execute(select(AuditEvent.snapshot).where(rows, AuditEvent.snapshot.is_not(None))).scalars())


def as_dict(row: AuditEvent) -> dict[str, object]:
    out = {name: getattr(row, name) for name in EXPORT_FIELDS}
    out["at"] = as_utc_naive(row.at).isoformat(timespec="microseconds") + "Z"
    if row.anonymised_at is not None:
        out["anonymised_at"] = as_utc_naive(row.anonymised_at).isoformat(timespec="seconds") + "Z"
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
        "per day": Counter(as_utc_naive(r.at).date().isoformat() for r in rows),
        "per person": Counter(r.person_id or "(unknown)" for r in rows),
        "per decision": Counter(r.decision for r in rows),
    }
