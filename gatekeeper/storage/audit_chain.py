"""How audit rows are hashed, and the check of a whole chain (``gatekeeper audit verify``).

Rows written before the chain was keyed (schema revisions up to 0005) keep their plain SHA-256;
every later row carries an HMAC-SHA256 under the audit key. Meta pointers (head, purge anchor,
the id up to which rows are unkeyed) are sealed with the same key, so none of them can be moved
by someone without it. A checkpoint exported earlier proves the rows up to it even against
someone who has the key (they cannot find another chain ending in the same hash).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gatekeeper.core.types import Decision
from gatekeeper.storage.models import AuditEvent, Meta

from gatekeeper.errors import EnvironmentFault, InputError

GENESIS = "0" * 64
HEAD_KEY = "audit_head"
ANCHOR_KEY = "audit_anchor"
LEGACY_KEY = "audit_legacy_through"  # rows up to this id were hashed before the chain was keyed
CHECKPOINT_KIND = "gatekeeper-audit-checkpoint/1"
LEGACY_NOTE = "unprotected rows:"


def as_utc(at: datetime) -> datetime:
    """Aware UTC for storing and filtering; a naive time is taken to be UTC already."""
    return at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)


def as_utc_naive(at: datetime) -> datetime:
    """SQLite gives times back without a zone, PostgreSQL with one: hash the same text for both."""
    return as_utc(at).replace(tzinfo=None)


def round_score(v: float | None) -> float | None:
    return None if v is None else round(float(v), 6)


def _sha256(content: object) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class AuditTamperError(EnvironmentFault):
    """The chain's head pointer does not verify: nothing is appended to a log that was altered
    (or is opened with another audit key); the door stays shut because grants cannot be logged."""


def personal_digest(salt: str, person_id: str | None, snapshot: str | None, nearest_id: str | None = None) -> str:
    """What the row hash covers of the personal fields; a row without a nearest person (all rows
    before schema 0007) hashes exactly as before."""
    return _sha256([salt, person_id, snapshot] + ([nearest_id] if nearest_id is not None else []))


def _content(row: AuditEvent, prev_hash: str) -> dict[str, object]:
    return {
        "event_id": row.event_id,
        "at": as_utc_naive(row.at).isoformat(timespec="microseconds"),
        "door_id": row.door_id,
        "decision": row.decision,
        "best": round_score(row.best_similarity),
        "second": round_score(row.second_similarity),
        "threshold": round_score(row.threshold),
        "margin": round_score(row.margin),
        "model_version": row.model_version,
        "quality": row.quality,
        "detail": row.detail,
        "prev": prev_hash,
    }


def row_digest(row: AuditEvent, prev_hash: str) -> str:
    """The unkeyed hash of rows written before the chain was keyed (schema revisions 0001-0005)."""
    content = _content(row, prev_hash)
    if row.personal_digest is None:  # written before schema revision 0002: fields hashed directly
        content.update(person_id=row.person_id, snapshot=row.snapshot)
    else:
        content["personal"] = row.personal_digest
    return _sha256(content)


def keyed_digest(key: bytes, row: AuditEvent, prev_hash: str) -> str:
    """HMAC-SHA256 over every column (the person and snapshot through their salted digest; the
    time of a later anonymisation through the ``anonymised`` row that covers it; the actor of an
    admin row)."""
    content = {**_content(row, prev_hash), "personal": row.personal_digest, "covers": row.covers, "scheme": "hmac-sha256/1"}
    if row.actor is not None:  # schema 0007: rows before it hash as they always did
        content["actor"] = row.actor
    return hmac.new(key, json.dumps(content, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Pointer:
    """A sealed meta value: an event id and a hash, with a MAC naming what they mean."""

    event_id: int
    row_hash: str

    def seal(self, key: bytes, name: str) -> str:
        return f"{self.event_id}:{self.row_hash}:{mac(key, name, self.event_id, self.row_hash)}"

    @classmethod
    def open(cls, key: bytes, name: str, value: str) -> "Pointer | None":
        """The pointer if its MAC verifies; None for a forged or foreign one."""
        parts = value.split(":")
        if len(parts) != 3 or not parts[0].isdigit():
            return None
        pointer = cls(int(parts[0]), parts[1])
        return pointer if hmac.compare_digest(parts[2], mac(key, name, pointer.event_id, pointer.row_hash)) else None


def mac(key: bytes, name: str, event_id: int, row_hash: str) -> str:
    return hmac.new(key, f"{name}:{event_id}:{row_hash}".encode(), hashlib.sha256).hexdigest()


def personal_problem(row: AuditEvent) -> str | None:
    """Whether the row's person and snapshot still match the digest its hash covers."""
    if row.personal_digest is None:
        return None
    if row.personal_salt is None:  # anonymised: nothing personal may have come back
        if row.person_id is None and row.snapshot is None and row.nearest_id is None:
            return None
    elif personal_digest(row.personal_salt, row.person_id, row.snapshot, row.nearest_id) == row.personal_digest:
        return None
    return f"event {row.event_id}: person or snapshot does not match its digest (row edited)"




@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment, MAC'd with the audit key, meant to be kept off the box."""

    event_id: int
    row_hash: str
    rows: int
    exported_at: str
    tag: str

    @classmethod
    def make(cls, key: bytes, event_id: int, row_hash: str, rows: int) -> "Checkpoint":
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(event_id, row_hash, rows, at, mac(key, f"{CHECKPOINT_KIND}:{rows}:{at}", event_id, row_hash))

    def valid(self, key: bytes) -> bool:
        return hmac.compare_digest(self.tag, mac(key, f"{CHECKPOINT_KIND}:{self.rows}:{self.exported_at}", self.event_id, self.row_hash))

    def to_json(self) -> str:
        return json.dumps({"kind": CHECKPOINT_KIND, "event_id": self.event_id, "row_hash": self.row_hash, "rows": self.rows, "exported_at": self.exported_at, "tag": self.tag}, indent=2)

    @classmethod
    def read(cls, path: Path) -> "Checkpoint":
        try:
            data = json.loads(path.read_text())
            if data.get("kind") != CHECKPOINT_KIND:
                raise ValueError(f"not a {CHECKPOINT_KIND} file")
            return cls(int(data["event_id"]), str(data["row_hash"]), int(data["rows"]), str(data["exported_at"]), str(data["tag"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: not a readable audit checkpoint ({exc})") from exc


class ChainCheck:
    """One pass over the log; ``run`` returns the problems, each naming the row or pointer."""

    def __init__(self, key: bytes, session: Session) -> None:
        self.key = key
        self.session = session
        self.problems: list[str] = []
        self.keyed = False  # whether keyed rows were ever written (the marker is sealed)

    def run(self, checkpoint: Checkpoint | None = None) -> list[str]:
        legacy_through = self._legacy_through()
        anchor_id, prev = self._anchor()
        covered = self._anonymisations(legacy_through)
        last: AuditEvent | None = None
        # Streamed in batches, one pass, so a log of millions of rows verifies in bounded memory.
        for row in self.session.execute(select(AuditEvent).order_by(AuditEvent.event_id).execution_options(yield_per=2000)).scalars():
            keyed = legacy_through is not None and row.event_id > legacy_through
            if row.prev_hash != prev:
                self.problems.append(f"event {row.event_id}: chain broken before this row (a row was deleted, inserted or reordered)")
            expected = keyed_digest(self.key, row, row.prev_hash) if keyed else row_digest(row, row.prev_hash)
            if not hmac.compare_digest(expected, row.row_hash):
                self.problems.append(f"event {row.event_id}: content does not match its hash (row edited)")
            if (personal := personal_problem(row)) is not None:
                self.problems.append(personal)
            self._check_cleared(row, covered)
            prev, last = row.row_hash, row
        self._check_head(last, legacy_through)
        if checkpoint is not None:
            self._check_checkpoint(checkpoint, anchor_id)
        return self.problems

    def _legacy_through(self) -> int | None:
        """The last unkeyed row's id; None when the marker is missing or forged (then every row
        is checked as keyed, so nothing passes as legacy). Unkeyed rows that an admin has not
        sealed are always reported: a rewrite could have reset the marker to claim them."""
        row = self.session.get(Meta, LEGACY_KEY)
        self.keyed = row is None or ":" in row.value  # missing counts as keyed: nothing passes as legacy
        if row is None:
            self.problems.append("the audit log's keying marker is missing (log deleted or rewritten)")
            return None
        if not self.keyed:
            through = int(row.value) if row.value.isdigit() else 0
            if through > 0:
                self.problems.append(f"{LEGACY_NOTE} events up to {through} were hashed without the audit key and could have been rewritten; "
                                     "check them, then run `gatekeeper audit seal-legacy`")
            return through
        pointer = Pointer.open(self.key, LEGACY_KEY, row.value)
        if pointer is None:
            self.problems.append("the audit log's keying marker does not verify (altered, or another audit key)")
            return None
        return pointer.event_id

    def _anchor(self) -> tuple[int, str]:
        row = self.session.get(Meta, ANCHOR_KEY)
        if row is None:
            return 0, GENESIS
        if ":" not in row.value:
            legacy = self.session.get(Meta, LEGACY_KEY)
            if self.keyed or legacy is None or legacy.value == "0":  # only a legacy purge leaves a plain anchor
                self.problems.append("the purge anchor is unsealed in a keyed log (a purge was faked)")
            return 0, row.value
        pointer = Pointer.open(self.key, ANCHOR_KEY, row.value)
        if pointer is None:
            self.problems.append("the purge anchor does not verify (a purge was faked, or another audit key)")
            return 0, row.value.split(":")[1]
        return pointer.event_id, pointer.row_hash

    def _anonymisations(self, legacy_through: int | None) -> dict[int, str]:
        """Row id -> anonymisation time, as declared by keyed ``anonymised`` rows."""
        out: dict[int, str] = {}
        if legacy_through is None:
            return out
        declared = select(AuditEvent).where(AuditEvent.decision == Decision.ANONYMISED.value, AuditEvent.event_id > legacy_through).order_by(AuditEvent.event_id)
        for row in self.session.execute(declared).scalars():
            if row.covers:
                for event_id in row.covers.get("events", []):
                    out[int(event_id)] = str(row.covers.get("at"))
        return out

    def _check_cleared(self, row: AuditEvent, covered: dict[int, str]) -> None:
        if row.personal_digest is None or row.personal_salt is not None:
            return
        at = as_utc_naive(row.anonymised_at).isoformat(timespec="microseconds") if row.anonymised_at else None
        if covered.get(row.event_id) != at:
            self.problems.append(f"event {row.event_id}: person cleared without a matching anonymisation record")

    def _check_head(self, last: AuditEvent | None, legacy_through: int | None) -> None:
        head = self.session.get(Meta, HEAD_KEY)
        if head is None:
            if last is not None or self.keyed:  # a keyed log always has a head (purge leaves a row)
                self.problems.append("the audit head pointer is missing (log truncated or deleted)")
            return
        if ":" in head.value:
            pointer = Pointer.open(self.key, HEAD_KEY, head.value)
            if pointer is None:
                self.problems.append("the audit head pointer does not verify (log altered, or another audit key)")
                return
            head_id, head_hash = pointer.event_id, pointer.row_hash
        else:
            if last is not None and legacy_through is not None and last.event_id > legacy_through:
                self.problems.append("the audit head pointer is unsealed behind keyed rows (log altered)")
            head_id, head_hash = (last.event_id if last else 0), head.value
        if last is None or last.row_hash != head_hash or last.event_id != head_id:
            self.problems.append(f"rows after event {last.event_id if last else 0} are missing (log truncated)")

    def _check_checkpoint(self, cp: Checkpoint, anchor_id: int) -> None:
        if not cp.valid(self.key):
            self.problems.append("the checkpoint file's tag does not verify (not exported with this audit key, or edited)")
            return
        if cp.event_id <= anchor_id:
            return  # purged since the checkpoint, by a purge whose anchor verifies
        match = self.session.get(AuditEvent, cp.event_id)
        if match is None:
            self.problems.append(f"checkpointed event {cp.event_id} is missing (log truncated or rewritten since {cp.exported_at})")
        elif match.row_hash != cp.row_hash:
            self.problems.append(f"event {cp.event_id} differs from the checkpoint of {cp.exported_at} (rows up to it were rewritten)")


class ChainWriter:
    """The one place rows join the chain: ``append`` checks the head pointer and the keying
    marker, hashes the row under the key and moves the sealed head. The caller's session must
    already hold the database's write lock, so two writers never fork the chain."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def append(self, session: Session, **fields: object) -> AuditEvent:
        prev = self.head(session)
        salt = secrets.token_hex(16)
        digest = personal_digest(salt, fields.get("person_id"), fields.get("snapshot"), fields.get("nearest_id"))  # type: ignore[arg-type]
        row = AuditEvent(**fields, personal_salt=salt, personal_digest=digest, prev_hash=prev, row_hash="")
        session.add(row)
        session.flush()  # assigns event_id, which the hash covers (detects reordering)
        row.row_hash = keyed_digest(self._key, row, prev)
        _set_meta(session, HEAD_KEY, Pointer(row.event_id, row.row_hash).seal(self._key, HEAD_KEY))
        return row

    def head(self, session: Session) -> str:
        """The hash the next row chains to, after checking the head pointer and the keying
        marker: nothing is appended to a log that was altered (it would bless the alteration)."""
        through = self._legacy_through(session)
        head = session.get(Meta, HEAD_KEY)
        if head is None:
            if session.execute(select(AuditEvent.event_id).limit(1)).first() is not None:
                raise AuditTamperError("the audit head pointer is missing behind existing rows (log altered): run `gatekeeper audit verify`")
            return _anchor_hash(session)
        if ":" not in head.value:  # the unkeyed head of a log written before keying
            last = session.execute(select(func.max(AuditEvent.event_id))).scalar() or 0
            if last > through:
                raise AuditTamperError("the audit head pointer is unsealed behind keyed rows (log altered): run `gatekeeper audit verify`")
            return head.value
        pointer = Pointer.open(self._key, HEAD_KEY, head.value)
        if pointer is None:
            raise AuditTamperError("the audit head pointer does not verify (log altered, or another audit key): run `gatekeeper audit verify`")
        return pointer.row_hash

    def anchor(self, session: Session, event_id: int, row_hash: str) -> None:
        """After a purge: what remains chains to the last deleted row, sealed so it cannot move."""
        _set_meta(session, ANCHOR_KEY, Pointer(event_id, row_hash).seal(self._key, ANCHOR_KEY))

    def seal_legacy(self, session: Session) -> int:
        """Seal the marker of rows hashed before keying (and an old purge anchor) once they verify;
        returns the last such row's id (0 when there was nothing to seal)."""
        legacy = session.get(Meta, LEGACY_KEY)
        if legacy is None or ":" in legacy.value:
            return 0
        blocking = [p for p in ChainCheck(self._key, session).run() if not p.startswith(LEGACY_NOTE)]
        if blocking:
            raise AuditTamperError(f"the unkeyed rows do not verify, nothing sealed: {blocking[0]}")
        through = int(legacy.value) if legacy.value.isdigit() else 0
        legacy.value = Pointer(through, "legacy").seal(self._key, LEGACY_KEY)
        anchor = session.get(Meta, ANCHOR_KEY)
        if anchor is not None and ":" not in anchor.value:
            anchor.value = Pointer(0, anchor.value).seal(self._key, ANCHOR_KEY)
        return through

    def _legacy_through(self, session: Session) -> int:
        """The last row hashed before keying (0 on a database created keyed). Never sealed here:
        an unsealed marker is only ever blessed by an admin (``seal_legacy``), or a rewrite that
        reset it would be blessed by the next write."""
        legacy = session.get(Meta, LEGACY_KEY)
        if legacy is None:
            raise AuditTamperError("the audit log's keying marker is missing (log deleted or rewritten): run `gatekeeper audit verify`")
        if ":" not in legacy.value:
            return int(legacy.value) if legacy.value.isdigit() else 0
        pointer = Pointer.open(self._key, LEGACY_KEY, legacy.value)
        if pointer is None:
            raise AuditTamperError("the audit log's keying marker does not verify (altered, or another audit key)")
        return pointer.event_id


def _anchor_hash(session: Session) -> str:
    row = session.get(Meta, ANCHOR_KEY)
    if row is None:
        return GENESIS
    return row.value.split(":")[1] if ":" in row.value else row.value


def _set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value))
    else:
        row.value = value
