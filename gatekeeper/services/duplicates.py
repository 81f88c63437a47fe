"""The duplicate-person check at enrollment: is this face already enrolled under another id?

A second id for an enrolled face would survive the first one's removal, so the check compares
every new photo, and the new person's mean vector, with every enrolled photo of everyone else,
at its own calibrated threshold (``duplicate_threshold`` in the model card: the photo-to-photo
similarity two different people reach once in 100,000 pairs, so that thousands of comparisons per
enrollment still almost never refuse a newcomer), besides everyone's mean at the door's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from gatekeeper.storage.database import gallery_generation
from gatekeeper.storage.models import Photo
from gatekeeper.storage.templates import TemplateCodec


@dataclass(frozen=True)
class Clash:
    person_id: str
    similarity: float


class PhotoGallery:
    """Every enrolled photo embedding by person, re-read when the gallery generation moves."""

    def __init__(self, codec: TemplateCodec, model_version: str) -> None:
        self.codec = codec
        self.model_version = model_version
        self.generation = -1
        self._owners: np.ndarray = np.zeros(0, dtype=object)
        self._vectors = np.zeros((0, 0), np.float32)

    def refresh(self, session: Session, generation: int | None = None) -> None:
        """Re-read when the database moved past what we hold. ``generation``: the one to compare
        with (inside an enrollment transaction: the generation before its own bump)."""
        generation = gallery_generation(session) if generation is None else generation
        if generation == self.generation:
            return
        rows = session.execute(select(Photo.person_id, Photo.embedding).where(Photo.model_version == self.model_version)).all()
        self._owners = np.array([r.person_id for r in rows], dtype=object)
        self._vectors = np.stack([self.codec.decode(r.embedding) for r in rows]) if rows else np.zeros((0, 0), np.float32)
        self.generation = generation

    @property
    def size(self) -> int:
        """How many enrolled photos are held."""
        return len(self._owners)

    def follow(self, person_id: str, embeddings: list[np.ndarray], generation: int, extend: bool) -> None:
        """Our own enrollment, committed as ``generation``: update in memory instead of re-reading,
        when nobody else changed the database in between."""
        if self.generation != generation - 1 or not embeddings:
            self.generation = -1  # re-read next time
            return
        keep = np.ones(len(self._owners), bool) if extend else self._owners != person_id
        new = np.stack(embeddings).astype(np.float32)
        self._vectors = np.concatenate([self._vectors[keep], new]) if keep.any() else new
        self._owners = np.concatenate([self._owners[keep], np.array([person_id] * len(new), dtype=object)])
        self.generation = generation

    def closest_other(self, person_id: str, queries: np.ndarray) -> Clash | None:
        """The most similar enrolled photo of anyone but ``person_id``, over all ``queries``."""
        others = self._owners != person_id
        if not others.any() or len(queries) == 0:
            return None
        sims = queries @ self._vectors[others].T
        q, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        return Clash(str(self._owners[others][j]), float(sims[q, j]))
