"""Templates that fit the door: frames of confident grants, offered as template photos.

The best enrollment photo for a door is one its own camera took. After a grant well above the
threshold and well ahead of the runner-up (or, at a card + face door, well above the 1:1
threshold), the door may keep that frame's aligned face as a *candidate*; an admin accepts it
(`gatekeeper people accept`) or, with ``door_templates = auto``, the door adds it itself, up to
``door_templates_cap`` door photos per person. A candidate must also match the person's own
enrollment photos (not the template, which door photos already moved) by a 1:1 check at the model
card's per-pair FAR 1e-4 point, so
door frames can never pull a template away from the photos an admin enrolled: a person's template
never comes from door frames alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.types import Decision
from gatekeeper.services.audit import AuditLog
from gatekeeper.services.review import keep_negative
from gatekeeper.services.enrollment import Enrollment, PersonResult, PhotoResult, encode_keepsake, person_vector
from gatekeeper.storage.database import bump_generation, take_write_lock
from gatekeeper.storage.models import Photo, TemplateCandidate
from gatekeeper.storage.templates import TemplateCodec

DOOR_SOURCE = "door:"  # accepted door frames are photos whose source starts so
CANDIDATE_LEAD = 0.02  # a grant this far above its threshold ...
CANDIDATE_MARGIN_FACTOR = 2.0  # ... and this many margins ahead of the runner-up is confident
KEEP_PER_PERSON = 3  # candidates waiting per person; the oldest goes


def confident_grant(best: float | None, second: float | None, threshold: float, margin: float) -> bool:
    """Whether a grant is sure enough for its frame to be offered as a template photo."""
    if best is None or best < threshold + CANDIDATE_LEAD:
        return False
    return second is None or best - second >= CANDIDATE_MARGIN_FACTOR * margin


@dataclass(frozen=True)
class CandidateView:
    candidate_id: int
    person_id: str
    door_id: str
    at: datetime
    similarity: float


class DoorTemplates:
    def __init__(self, sessions: sessionmaker[Session], codec: TemplateCodec, enrollment: Enrollment, audit: AuditLog, actor: str, cap: int) -> None:
        self.sessions, self.codec, self.enrollment, self.audit, self.actor, self.cap = sessions, codec, enrollment, audit, actor, cap

    def offer(self, person_id: str, door_id: str, embedding: np.ndarray, keepsake_rgb: np.ndarray, similarity: float, quality: dict[str, float], anchor: float) -> int | None:
        """Keep a confident grant's frame as a candidate; None where the person has no enrollment
        photo of their own, already has ``cap`` door photos, or the frame does not match their
        enrollment photos at ``anchor``."""
        with self.sessions.begin() as session:
            own = self._own_photos(session, person_id)
            if not own or self.door_photos(session, person_id) >= self.cap:
                return None
            if float(person_vector(own) @ embedding) < anchor:
                return None
            row = TemplateCandidate(person_id=person_id, door_id=door_id, at=datetime.now(timezone.utc), similarity=similarity,
                                    embedding=self.codec.encode(embedding), face_crop=self.codec.seal(encode_keepsake(keepsake_rgb)),
                                    model_version=self.enrollment.model_version, quality=quality)
            session.add(row)
            session.flush()
            stale = session.scalars(select(TemplateCandidate.candidate_id).where(TemplateCandidate.person_id == person_id)
                                    .order_by(TemplateCandidate.candidate_id.desc()).offset(KEEP_PER_PERSON)).all()
            if stale:
                session.execute(delete(TemplateCandidate).where(TemplateCandidate.candidate_id.in_(stale)))
            return int(row.candidate_id)

    def pending(self, person_id: str | None = None) -> list[CandidateView]:
        with self.sessions() as session:
            query = select(TemplateCandidate).order_by(TemplateCandidate.candidate_id)
            if person_id is not None:
                query = query.where(TemplateCandidate.person_id == person_id)
            return [CandidateView(c.candidate_id, c.person_id, c.door_id, c.at, c.similarity) for c in session.scalars(query)]

    def accept(self, candidate_id: int) -> PersonResult:
        """Add the candidate to its person's template (the enrollment rules apply: the duplicate
        check, an ``extended`` row in the audit chain); the candidate is used up either way."""
        with self.sessions.begin() as session:
            c = session.get(TemplateCandidate, candidate_id)
            if c is None:
                raise KeyError(candidate_id)
            over = self.door_photos(session, c.person_id) >= self.cap
            person_id, photo = c.person_id, self._as_photo(c)
            session.delete(c)
        if over:
            return PersonResult(person_id, person_id, [photo], reason=f"already {self.cap} door photos (door_templates_cap)")
        if photo.embedding is None:
            return PersonResult(person_id, person_id, [photo], reason="the candidate was taken with another model")
        return self.enrollment.enroll(person_id, None, [photo], extend=True)

    def dismiss(self, candidate_id: int) -> bool:
        """Drop a candidate (audited); False when there is none with this id."""
        with self.sessions.begin() as session:
            take_write_lock(session)
            c = session.get(TemplateCandidate, candidate_id)
            if c is None:
                return False
            self.audit.admin_action(session, Decision.CANDIDATE_DISMISSED, self.actor, c.person_id, f"door template candidate {candidate_id} dismissed")
            session.delete(c)
        return True

    def face_jpeg(self, candidate_id: int) -> bytes:
        with self.sessions() as session:
            c = session.get(TemplateCandidate, candidate_id)
            if c is None:
                raise KeyError(candidate_id)
            return self.codec.unseal(c.face_crop)

    def not_this_person(self, candidate_id: int) -> str:
        """A granted frame that was someone else: kept as a face that is not the person it was
        granted as (doors reload it with the gallery and never grant it as them again); the
        person's id is returned."""
        with self.sessions.begin() as session:
            bump_generation(session)  # first: the write lock; running doors reload the negatives
            c = session.get(TemplateCandidate, candidate_id)
            if c is None:
                raise KeyError(candidate_id)
            keep_negative(session, self.audit, self.actor, c.person_id, c.embedding, c.model_version, f"door template candidate {candidate_id} from door {c.door_id}")
            person_id = c.person_id
            session.delete(c)
        return person_id

    def door_photos(self, session: Session, person_id: str) -> int:
        return int(session.scalar(select(func.count()).select_from(Photo).where(Photo.person_id == person_id, Photo.source.startswith(DOOR_SOURCE))) or 0)

    def _own_photos(self, session: Session, person_id: str) -> list[np.ndarray]:
        rows = session.scalars(select(Photo.embedding).where(Photo.person_id == person_id, ~Photo.source.startswith(DOOR_SOURCE),
                                                              Photo.model_version == self.enrollment.model_version)).all()
        return [self.codec.decode(e) for e in rows]

    def _as_photo(self, c: TemplateCandidate) -> PhotoResult:
        crop = self.codec.unseal(c.face_crop)
        current = c.model_version == self.enrollment.model_version
        return PhotoResult(f"{DOOR_SOURCE}{c.door_id}:{c.at:%Y-%m-%dT%H:%M:%S}", embedding=self.codec.decode(c.embedding) if current else None,
                           quality=dict(c.quality), sha256=hashlib.sha256(crop).hexdigest(), face_crop=crop)
