"""The enrollment use case: quality-gated embeddings -> ONE vector per person, with its audit row.

A person's vector is the re-normalised mean of their photos' embeddings. Database rows change in a
single transaction that also bumps the gallery generation; the FAISS index is re-synchronised after
the commit, and a crash in between only leaves a stale index that the next start rebuilds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.config import Settings
from gatekeeper.core.types import Decision
from gatekeeper.services.audit import AuditLog
from gatekeeper.services.duplicates import Clash, PhotoGallery
from gatekeeper.core.identifiers import InvalidIdentifier, check_person_id, clean_display_name
from gatekeeper.match.gallery import INDEX_SEAL_PURPOSE, GalleryIndex, gallery_seal, load_gallery
from gatekeeper.services.enrollment.photos import PhotoResult, embed_photo
from gatekeeper.services.enrollment.workers import Batch, embed_people
from gatekeeper.vision.pipeline import FacePipeline
from gatekeeper.storage.database import bump_generation, gallery_generation, take_write_lock
from gatekeeper.storage.models import Person, Photo, utcnow
from gatekeeper.storage.templates import IndexSeal, TemplateCodec
from gatekeeper.match.thresholds import DecisionThresholds
from gatekeeper.errors import InputError

log = logging.getLogger(__name__)


@dataclass
class PersonResult:
    person_id: str
    name: str
    photos: list[PhotoResult]
    enrolled: bool = False
    reason: str | None = None
    lookalike: Clash | None = None  # refused as looking like this enrolled person: force to enroll anyway


class _Refused(Exception):
    """Raised inside an enrollment transaction to roll it back."""


class Enrollment:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], codec: TemplateCodec, pipeline: FacePipeline, thresholds: DecisionThresholds, audit: AuditLog, actor: str) -> None:
        self.settings = settings
        self.audit = audit  # every change is a row of the audit chain, in the change's own transaction
        self.actor = actor
        self.sessions = sessions
        self.codec = codec
        self.pipeline = pipeline
        self.thresholds = thresholds
        self._index: GalleryIndex | None = None  # kept in step with our own enrollments
        self._in_batch = False
        self._unsaved = False
        self.index_warning: str | None = None  # set when the index file could not be written
        self._photos = PhotoGallery(codec, pipeline.model_version)
        self._seal: IndexSeal | None = None
        self.same_face_as: list[Clash] = []  # after remove(): other ids whose face matches the removed one

    @property
    def model_version(self) -> str:
        return self.pipeline.model_version

    def gallery(self) -> GalleryIndex:
        """The index as the database has it now (the file if current, else rebuilt and saved)."""
        self._index = load_gallery(self.sessions, self.codec, self.settings.index_path, self.pipeline.embedding_dim, self.model_version, self.audit.derived_key(INDEX_SEAL_PURPOSE))
        self._unsaved = False
        if self._index.save_error:
            self.index_warning = self._index.save_error
        return self._index

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many enrollments, one index file write at the end (a crash before it only leaves a
        stale file, which the next load rebuilds from the database)."""
        self._in_batch = True
        try:
            yield
        finally:
            self._in_batch = False
            if self._index is not None and self._unsaved:
                self._save_index(self._index)

    def embed_photo(self, path: Path) -> PhotoResult:
        return embed_photo(self.pipeline, path)

    def embed_people(self, batch: Batch) -> Iterator[tuple[str, str | None, list[PhotoResult]]]:
        """Everyone's photos embedded in ``enroll_workers`` processes; yields each person in order."""
        return embed_people(self.pipeline, batch, self.settings.enroll_workers)

    def enroll(self, person_id: str, name: str | None, photos: list[PhotoResult], extend: bool = False, force: bool = False) -> PersonResult:
        """Store one person from already embedded photos; refuses lookalikes of others unless forced.
        ``name`` None keeps an enrolled person's name (a new person is named after the id)."""
        result = PersonResult(person_id, name or person_id, photos)
        try:
            check_person_id(person_id)
            name = clean_display_name(name) if name is not None else None
        except InvalidIdentifier as exc:
            result.reason = str(exc)
            return result
        accepted = [p for p in photos if p.ok]
        if not accepted:
            result.reason = "no usable photo"
            return result
        try:
            with self.sessions.begin() as session:
                generation = bump_generation(session)  # first: the write lock (see its docstring)
                person = session.get(Person, person_id)
                kept = [self.codec.decode(p.embedding) for p in person.photos] if (person and extend) else []
                vector = person_vector(kept + [p.embedding for p in accepted])
                clash = self._same_photo(session, person_id, accepted) or self._lookalike(session, generation, person_id, vector, [p.embedding for p in accepted])
                if clash and not force:
                    result.lookalike = clash
                    raise _Refused(f"looks like already-enrolled {clash.person_id!r} (similarity {clash.similarity:.3f})")
                action = Decision.EXTENDED if (person is not None and extend) else Decision.ENROLLED
                vector_id = self._store(session, person, person_id, name, vector, accepted, extend)
                self.audit.admin_action(session, action, self.actor, person_id, f"{len(accepted)} of {len(photos)} photos used", self.model_version)
        except _Refused as refused:  # rolled back: the generation did not move
            result.reason = str(refused)
            return result
        self._index_follows(generation, vector_id, person_id, vector)
        self._photos.follow(person_id, [p.embedding for p in accepted], generation, extend)
        result.enrolled = True
        return result

    def _index_follows(self, generation: int, vector_id: int, person_id: str, vector: np.ndarray) -> None:
        """Re-sync the index now rather than at the next daemon refresh: in memory when nobody
        else changed the database since our copy (generation), by a rebuild otherwise."""
        index = self._index
        if index is None or index.generation != generation - 1 or index.model_version != self.model_version or not index.upsert(vector_id, person_id, vector, generation):
            self.gallery()
            return
        self._unsaved = True
        if not self._in_batch:
            self._save_index(index)

    def _save_index(self, index: GalleryIndex) -> None:
        """The file is only a cache: when it cannot be written the database change still stands
        (doors rebuild from the database), and the admin is told rather than shown a failure."""
        self._unsaved = False
        try:
            if self._seal is None:  # the key never changes for this database and codec: read it once
                self._seal = gallery_seal(self.codec, self.audit.derived_key(INDEX_SEAL_PURPOSE))
            index.save(self.settings.index_path, self._seal)
        except OSError as exc:
            self.index_warning = f"the index file {self.settings.index_path} could not be written ({exc.strerror or exc}); doors rebuild it from the database"
            log.error("%s", self.index_warning)

    def current_gallery(self) -> GalleryIndex:
        """The index this enrollment holds when the database has not moved since, else reloaded."""
        if self._index is not None:
            with self.sessions() as session:
                if gallery_generation(session) == self._index.generation:
                    return self._index
        return self.gallery()

    def remove(self, person_id: str) -> bool:
        """Delete the person; ``self.same_face_as`` then names anyone else enrolled whose photos
        match theirs (a second id for the same face would otherwise outlive the removal)."""
        self.same_face_as = []
        try:
            with self.sessions.begin() as session:
                bump_generation(session)  # first: the write lock
                person = session.get(Person, person_id)
                if person is None:
                    raise _Refused(person_id)
                self.same_face_as = self._others_with_this_face(session, person)
                session.delete(person)
                self.audit.admin_action(session, Decision.REMOVED, self.actor, person_id, "templates and photos deleted")
        except _Refused:
            return False
        finally:
            self._photos.generation = -1  # it read the person being deleted: re-read next time
        self.gallery()
        return True

    def _others_with_this_face(self, session: Session, person: Person) -> list[Clash]:
        self._photos.refresh(session)
        photos = [self.codec.decode(p.embedding) for p in person.photos if p.model_version == self.model_version]
        return self._same_face(person.person_id, person_vector(photos), photos) if photos else []

    def remove_photo(self, person_id: str, photo_id: int) -> bool:
        """Take one enrollment photo out (a wrong face, a poor picture) and recompute the person's
        template from the rest; False when they have no such photo. Their last photo cannot go:
        remove the person instead."""
        try:
            with self.sessions.begin() as session:
                generation = bump_generation(session)  # first: the write lock
                person = session.get(Person, person_id)
                photo = session.get(Photo, photo_id)
                if person is None or photo is None or photo.person_id != person_id:
                    raise _Refused(person_id)  # rolled back: the generation did not move
                kept = [p for p in person.photos if p.photo_id != photo_id]
                if not kept:
                    raise InputError(f"photo {photo_id} is {person_id}'s only photo: remove the person instead")
                vector = person_vector([self.codec.decode(p.embedding) for p in kept])
                person.photos.remove(photo)
                person.template, person.updated_at = self.codec.encode(vector), utcnow()
                self.audit.admin_action(session, Decision.PHOTO_REMOVED, self.actor, person_id, f"photo {photo_id} removed, {len(kept)} kept", self.model_version)
                vector_id = person.vector_id
        except _Refused:
            return False
        self._index_follows(generation, vector_id, person_id, vector)
        self._photos.generation = -1  # the photo gallery held the removed photo: re-read next time
        return True

    def rename(self, person_id: str, name: str) -> bool:
        """False when nobody has this id; ``InvalidIdentifier`` for a name enrollment would refuse."""
        name = clean_display_name(name)
        with self.sessions.begin() as session:
            take_write_lock(session)  # the audit row below extends the chain
            person = session.get(Person, person_id)
            if person is None:
                return False
            person.name = name
            person.updated_at = utcnow()
            self.audit.admin_action(session, Decision.RENAMED, self.actor, person_id, "display name changed")  # the names stay out of the log
        return True

    @staticmethod
    def _same_photo(session: Session, person_id: str, accepted: list[PhotoResult]) -> Clash | None:
        """A photo file already enrolled for someone else (the same bytes): a second id for certain,
        whatever the gallery's size does to the similarity rule."""
        digests = [p.sha256 for p in accepted if p.sha256]
        if not digests:
            return None
        owner = session.scalar(select(Photo.person_id).where(Photo.sha256.in_(digests), Photo.person_id != person_id).limit(1))
        return Clash(owner, 1.0) if owner is not None else None

    def _lookalike(self, session: Session, generation: int, person_id: str, vector: np.ndarray, photos: list[np.ndarray]) -> Clash | None:
        self._photos.refresh(session, generation - 1)  # the transaction already bumped it
        clashes = self._same_face(person_id, vector, photos)
        return clashes[0] if clashes else None

    def _same_face(self, person_id: str, vector: np.ndarray, photos: list[np.ndarray]) -> list[Clash]:
        """Other enrolled people this face already matches: their mean at the door's threshold,
        or any of their photos at the duplicate threshold (the photo gallery must be current)."""
        index = self.current_gallery()
        # Thresholds for the gallery's size: a newcomer is compared with everyone, so a fixed
        # threshold would refuse more distinct newcomers the more people are enrolled.
        at_people = self.thresholds.duplicate_for(len(index))
        at_photos = max(self.thresholds.duplicate, self.thresholds.duplicate_for(self._photos.size))
        found = [Clash(c.person_id, c.similarity) for c in index.search(vector[None], k=5)[0] if c.person_id != person_id and c.similarity >= at_people]
        clash = self._photos.closest_other(person_id, np.stack([vector, *photos]))
        if clash is not None and clash.similarity >= at_photos and clash.person_id not in {c.person_id for c in found}:
            found.append(clash)
        return found

    def _store(self, session: Session, person: Person | None, person_id: str, name: str | None, vector: np.ndarray, accepted: list[PhotoResult], extend: bool) -> int:
        name = name if name is not None else (person.name if person is not None else person_id)
        if person is None:
            next_id = (session.execute(select(func.max(Person.vector_id))).scalar() or 0) + 1
            person = Person(person_id=person_id, name=name, vector_id=next_id, template=b"", model_version=self.model_version)
            session.add(person)
        elif not extend:
            person.photos.clear()
        person.name = name
        person.template = self.codec.encode(vector)
        person.model_version = self.model_version
        person.updated_at = utcnow()
        for p in accepted:
            person.photos.append(Photo(source=p.path, sha256=p.sha256, embedding=self.codec.encode(p.embedding), face_crop=self.codec.seal(p.face_crop) if p.face_crop else None,
                                       model_version=self.model_version, quality=p.quality))
        return person.vector_id


def person_vector(embeddings: list[np.ndarray]) -> np.ndarray:
    """The re-normalised mean: one robust template from several photos."""
    mean = np.mean(np.stack(embeddings), axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)
