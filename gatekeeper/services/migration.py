"""`gatekeeper migrate`: re-embed the whole gallery with the encoder now configured.

Embeddings of two models cannot be compared, so a model change would otherwise strand every
enrolled person. Enrollment keeps each photo's aligned face crop (sealed like the templates);
migration cuts the new model's template from it, re-embeds, recomputes each person's vector and
rewrites everything in ONE transaction that also bumps the gallery generation: a daemon sees either
the old gallery or the new one, never a mix. Photos enrolled before crops were kept cannot be
re-embedded; then nothing is changed and the report names the people to re-enroll.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gatekeeper.vision.align import ENROLLMENT_KEEPSAKE, align_face
from gatekeeper.core.types import Decision
from gatekeeper.services.enrollment import Enrollment, decode_keepsake, person_vector
from gatekeeper.storage.database import bump_generation
from gatekeeper.storage.models import Person, utcnow


@dataclass
class MigrationReport:
    model_version: str
    migrated: list[str] = field(default_factory=list)  # person ids now on the new model
    already_current: list[str] = field(default_factory=list)
    without_crops: list[str] = field(default_factory=list)  # cannot migrate: re-enroll from photos

    @property
    def complete(self) -> bool:
        return not self.without_crops


class _RollBack(Exception):
    """Raised inside the migration transaction to leave the database exactly as it was."""


def migrate_gallery(enrollment: Enrollment) -> MigrationReport:
    """Re-embed everyone not on ``enrollment``'s model; all or nothing."""
    report = MigrationReport(enrollment.pipeline.encoder.version)
    try:
        with enrollment.sessions.begin() as session:
            bump_generation(session)  # first: the write lock, so no enrollment interleaves
            _migrate(session, enrollment, report)
            if report.without_crops or not report.migrated:
                raise _RollBack  # incomplete, or nothing to do: the generation must not move
            enrollment.audit.admin_action(session, Decision.MIGRATED, enrollment.actor, detail=f"{len(report.migrated)} people re-embedded", model_version=report.model_version)
    except _RollBack:
        return report
    enrollment.gallery()  # rebuild the index file for the new model now, not at the next start
    return report


def _migrate(session: Session, enrollment: Enrollment, report: MigrationReport) -> None:
    encoder, codec = enrollment.pipeline.encoder, enrollment.codec
    people = _people(session)
    report.without_crops = [p.person_id for p in people if p.model_version != encoder.version and any(ph.face_crop is None for ph in p.photos)]
    if report.without_crops:
        return
    for person in people:
        if person.model_version == encoder.version and all(ph.model_version == encoder.version for ph in person.photos):
            report.already_current.append(person.person_id)
            continue
        crops = np.stack([_recut(codec.unseal(ph.face_crop), encoder.template) for ph in person.photos])  # type: ignore[arg-type]
        embeddings = encoder.embed(crops)
        for photo, emb in zip(person.photos, embeddings):
            photo.embedding, photo.model_version = codec.encode(emb), encoder.version
        person.template = codec.encode(person_vector(list(embeddings)))
        person.model_version, person.updated_at = encoder.version, utcnow()
        report.migrated.append(person.person_id)


def _people(session: Session) -> list[Person]:
    return list(session.scalars(select(Person).options(selectinload(Person.photos)).order_by(Person.person_id)))


def _recut(jpeg: bytes, template) -> np.ndarray:  # type: ignore[no-untyped-def]
    return align_face(decode_keepsake(jpeg), ENROLLMENT_KEEPSAKE.points, template)
