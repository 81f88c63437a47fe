"""The review queue: learning from the door.

A door keeps refused faces (unknown, ambiguous, mismatch) as sealed *captures*, and confident
grants' frames as template *candidates* (``door_templates``). An admin looks at each with its
nearest enrolled people and either assigns it to a person (a photo added to their template, with
the enrollment rules: the duplicate check and an audit row), dismisses it, or marks it as *not*
a person: the face is kept as a negative for them (``match/negatives.py``), so the next time it
is at a door it is not granted as them. Captures expire after ``review_retention_days`` and go
when their nearest person is removed or anonymised.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.types import Candidate, Decision
from gatekeeper.errors import InputError
from gatekeeper.services.audit import AuditLog
from gatekeeper.services.enrollment import Enrollment, PersonResult, PhotoResult, encode_keepsake
from gatekeeper.storage.access import aware
from gatekeeper.storage.database import bump_generation, take_write_lock
from gatekeeper.storage.models import DoorCapture, NegativeFace, Person
from gatekeeper.storage.templates import TemplateCodec

REVIEWED = (Decision.DENIED_UNKNOWN, Decision.DENIED_AMBIGUOUS, Decision.DENIED_MISMATCH)
CAPTURE_CAP = 1000  # captures kept at most; the oldest go first
REVIEW_SOURCE = "review:"  # assigned captures are photos whose source starts so


@dataclass(frozen=True)
class CaptureView:
    capture_id: int
    event_id: int | None
    door_id: str
    at: datetime
    decision: str
    nearest_id: str | None
    best_similarity: float | None
    nearest_now: list[Candidate]  # against the gallery as it is now


def keep_negative(session: Session, audit: AuditLog, actor: str, person_id: str, sealed_embedding: bytes, model_version: str, what: str) -> None:
    """Inside a transaction that bumped the gallery generation (running doors reload negatives):
    keep a face as one that is not ``person_id``, with its audit row."""
    session.add(NegativeFace(person_id=person_id, embedding=sealed_embedding, model_version=model_version))
    audit.admin_action(session, Decision.MARKED_NOT_PERSON, actor, person_id, f"{what}: not this person")


class ReviewQueue:
    def __init__(self, sessions: sessionmaker[Session], codec: TemplateCodec, enrollment: Enrollment, audit: AuditLog, actor: str, retention_days: int) -> None:
        self.sessions, self.codec, self.enrollment, self.audit, self.actor = sessions, codec, enrollment, audit, actor
        self.retention = timedelta(days=retention_days)

    # -- the door's side ----------------------------------------------------------------------
    def capture(self, event_id: int | None, door_id: str, decision: str, nearest: str | None, best: float | None, embedding: np.ndarray,
                keepsake_rgb: np.ndarray, quality: dict[str, float]) -> int:
        """Keep a refused face (called off the frame loop); the oldest beyond the cap go."""
        with self.sessions.begin() as session:
            row = DoorCapture(event_id=event_id, door_id=door_id, at=datetime.now(timezone.utc), decision=decision, nearest_id=nearest, best_similarity=best,
                              embedding=self.codec.encode(embedding), face_crop=self.codec.seal(encode_keepsake(keepsake_rgb)),
                              model_version=self.enrollment.model_version, quality=quality)
            session.add(row)
            session.flush()
            stale = session.scalars(select(DoorCapture.capture_id).order_by(DoorCapture.capture_id.desc()).offset(CAPTURE_CAP)).all()
            if stale:
                session.execute(delete(DoorCapture).where(DoorCapture.capture_id.in_(stale)))
            return int(row.capture_id)

    def expire(self, now: datetime | None = None) -> int:
        """Delete captures past their retention; how many went."""
        cutoff = (now or datetime.now(timezone.utc)) - self.retention
        with self.sessions.begin() as session:
            return int(session.execute(delete(DoorCapture).where(DoorCapture.at < cutoff)).rowcount or 0)

    # -- the admin's side ---------------------------------------------------------------------
    def pending(self, limit: int = 100) -> list[CaptureView]:
        """Newest first, within retention, each with its nearest enrolled people now."""
        cutoff = datetime.now(timezone.utc) - self.retention
        with self.sessions() as session:
            rows = list(session.scalars(select(DoorCapture).where(DoorCapture.at >= cutoff).order_by(DoorCapture.capture_id.desc()).limit(limit)))
        gallery = self.enrollment.current_gallery() if rows else None
        views = []
        for r in rows:
            nearest = gallery.search(self.codec.decode(r.embedding)[None], k=3)[0] if (gallery is not None and len(gallery) and r.model_version == self.enrollment.model_version) else []
            views.append(CaptureView(r.capture_id, r.event_id, r.door_id, aware(r.at), r.decision, r.nearest_id, r.best_similarity, nearest))  # type: ignore[arg-type]
        return views

    def count(self) -> int:
        cutoff = datetime.now(timezone.utc) - self.retention
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(DoorCapture).where(DoorCapture.at >= cutoff)) or 0)

    def face_jpeg(self, capture_id: int) -> bytes:
        with self.sessions() as session:
            row = session.get(DoorCapture, capture_id)
            if row is None:
                raise InputError(f"no review capture {capture_id}")
            return self.codec.unseal(row.face_crop)

    def assign(self, capture_id: int, person_id: str, force: bool = False) -> PersonResult:
        """Add the captured face to the person's template (enrollment's rules: a lookalike of
        someone else is refused unless ``force``); the capture is used up once added."""
        with self.sessions() as session:
            row = self._capture(session, capture_id)
            if session.get(Person, person_id) is None:
                raise InputError(f"nobody is enrolled as {person_id!r}")
            photo = self._as_photo(row)
        if photo.embedding is None:
            raise InputError(f"capture {capture_id} was taken with another model: it cannot join {person_id}'s template")
        result = self.enrollment.enroll(person_id, None, [photo], extend=True, force=force)
        if result.enrolled:
            with self.sessions.begin() as session:
                session.execute(delete(DoorCapture).where(DoorCapture.capture_id == capture_id))
        return result

    def dismiss(self, capture_id: int) -> None:
        with self.sessions.begin() as session:
            take_write_lock(session)
            row = self._capture(session, capture_id)
            self.audit.admin_action(session, Decision.CAPTURE_DISMISSED, self.actor, None, f"review capture {capture_id} from door {row.door_id} dismissed")
            session.delete(row)

    def not_this_person(self, capture_id: int, person_id: str) -> None:
        """Keep the captured face as one that is not ``person_id``; doors reload it with the
        gallery (the generation moves) and never grant it as them."""
        with self.sessions.begin() as session:
            bump_generation(session)  # first: the write lock; running doors reload the negatives
            row = self._capture(session, capture_id)
            if session.get(Person, person_id) is None:
                raise InputError(f"nobody is enrolled as {person_id!r}")
            keep_negative(session, self.audit, self.actor, person_id, row.embedding, row.model_version, f"review capture {capture_id} from door {row.door_id}")
            session.delete(row)

    @staticmethod
    def _capture(session: Session, capture_id: int) -> DoorCapture:
        row = session.get(DoorCapture, capture_id)
        if row is None:
            raise InputError(f"no review capture {capture_id} (assigned, dismissed or expired)")
        return row

    def _as_photo(self, row: DoorCapture) -> PhotoResult:
        crop = self.codec.unseal(row.face_crop)
        current = row.model_version == self.enrollment.model_version
        return PhotoResult(f"{REVIEW_SOURCE}{row.door_id}:{aware(row.at):%Y-%m-%dT%H:%M:%S}", embedding=self.codec.decode(row.embedding) if current else None,
                           quality=dict(row.quality), sha256=hashlib.sha256(crop).hexdigest(), face_crop=crop)
