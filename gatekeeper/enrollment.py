"""Enroll employees from photos: quality-gated embeddings -> ONE vector per person.

A person's vector is the re-normalised mean of their photos' embeddings. Database rows change in a
single transaction that also bumps the gallery generation; the FAISS index is re-synchronised after
the commit, and a crash in between only leaves a stale index that the next start rebuilds.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.config import Settings
from gatekeeper.gallery import GalleryIndex, load_gallery
from gatekeeper.images import ImageError, read_rgb
from gatekeeper.pipeline import FaceError, FacePipeline
from gatekeeper.storage.database import bump_generation
from gatekeeper.storage.models import Person, Photo, utcnow
from gatekeeper.storage.templates import TemplateCodec
from gatekeeper.thresholds import DecisionThresholds

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class PhotoResult:
    path: str
    reason: str | None = None  # None = accepted
    embedding: np.ndarray | None = None
    quality: dict[str, float] = field(default_factory=dict)
    sha256: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass
class PersonResult:
    person_id: str
    name: str
    photos: list[PhotoResult]
    enrolled: bool = False
    reason: str | None = None


class DuplicatePersonError(ValueError):
    pass


class Enrollment:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], codec: TemplateCodec, pipeline: FacePipeline, thresholds: DecisionThresholds) -> None:
        self.settings = settings
        self.sessions = sessions
        self.codec = codec
        self.pipeline = pipeline
        self.thresholds = thresholds

    @property
    def model_version(self) -> str:
        return self.pipeline.encoder.version

    def gallery(self) -> GalleryIndex:
        return load_gallery(self.sessions, self.codec, self.settings.index_path, self.pipeline.encoder.dim, self.model_version)

    def embed_photo(self, path: Path) -> PhotoResult:
        try:
            image = read_rgb(path)
            face = self.pipeline.enrollment_face(image, path)
        except (ImageError, FaceError) as exc:
            return PhotoResult(str(path), reason=exc.reason)
        return PhotoResult(str(path), embedding=face.embedding, quality=face.quality.as_dict(), sha256=_sha256(path))

    def enroll(self, person_id: str, name: str, photos: list[PhotoResult], extend: bool = False, force: bool = False) -> PersonResult:
        """Store one person from already embedded photos; refuses lookalikes of others unless forced."""
        result = PersonResult(person_id, name, photos)
        accepted = [p for p in photos if p.ok]
        if not accepted:
            result.reason = "no usable photo"
            return result
        with self.sessions.begin() as session:
            person = session.get(Person, person_id)
            kept = [self.codec.decode(p.embedding) for p in person.photos] if (person and extend) else []
            vector = person_vector(kept + [p.embedding for p in accepted])
            clash = self._lookalike(person_id, vector)
            if clash and not force:
                result.reason = f"looks like already-enrolled {clash[0]!r} (similarity {clash[1]:.3f}); use --force if they are different people"
                return result
            self._store(session, person, person_id, name, vector, accepted, extend)
            bump_generation(session)
        self.gallery()  # re-sync the index now rather than at the next daemon refresh
        result.enrolled = True
        return result

    def remove(self, person_id: str) -> bool:
        with self.sessions.begin() as session:
            person = session.get(Person, person_id)
            if person is None:
                return False
            session.delete(person)
            bump_generation(session)
        self.gallery()
        return True

    def rename(self, person_id: str, name: str) -> bool:
        with self.sessions.begin() as session:
            person = session.get(Person, person_id)
            if person is None:
                return False
            person.name = name
            person.updated_at = utcnow()
        return True

    def _lookalike(self, person_id: str, vector: np.ndarray) -> tuple[str, float] | None:
        for cand in self.gallery().search(vector[None], k=2)[0]:
            if cand.person_id != person_id and cand.similarity >= self.thresholds.match:
                return cand.person_id, cand.similarity
        return None

    def _store(self, session: Session, person: Person | None, person_id: str, name: str, vector: np.ndarray, accepted: list[PhotoResult], extend: bool) -> None:
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
            person.photos.append(Photo(source=p.path, sha256=p.sha256, embedding=self.codec.encode(p.embedding), model_version=self.model_version, quality=p.quality))


def person_vector(embeddings: list[np.ndarray]) -> np.ndarray:
    """The re-normalised mean: one robust template from several photos."""
    mean = np.mean(np.stack(embeddings), axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def discover_people(root: Path, manifest: Path | None = None) -> list[tuple[str, str, list[Path]]]:
    """``root/<person-id>/*`` folders as (person id, display name, photos)."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder of per-person sub-folders")
    names = read_manifest(manifest) if manifest else {}
    people = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES or not p.suffix)
        people.append((folder.name, names.get(folder.name, folder.name.replace("_", " ")), photos))
    return people


def read_manifest(path: Path) -> dict[str, str]:
    """CSV with columns ``person_id,name``."""
    with path.open(newline="") as fh:
        rows = csv.DictReader(fh)
        if not rows.fieldnames or not {"person_id", "name"} <= set(rows.fieldnames):
            raise ValueError(f"{path}: manifest needs the columns person_id,name")
        return {r["person_id"].strip(): r["name"].strip() for r in rows if r.get("person_id")}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
