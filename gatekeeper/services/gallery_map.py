"""A map of the gallery: every enrolled person as a point (the templates' first two principal
components), and the closest pairs of people, the ones most likely to be confused at the door.
Computed on request and cached by the caller until the gallery changes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import faiss
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.storage.database import gallery_generation
from gatekeeper.storage.models import Person
from gatekeeper.storage.templates import TemplateCodec


@dataclass(frozen=True)
class ClosePair:
    first: str
    second: str
    similarity: float


@dataclass(frozen=True)
class GalleryMap:
    generation: int
    person_ids: list[str]
    names: list[str]
    points: np.ndarray  # (n, 2) in [0, 1]
    closest: list[ClosePair]  # most similar first
    seconds: float  # what drawing it took


def current_generation(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return gallery_generation(session)


def draw_gallery_map(sessions: sessionmaker[Session], codec: TemplateCodec, model_version: str, pairs: int = 50) -> GalleryMap:
    started = time.perf_counter()
    with sessions() as session:
        generation = gallery_generation(session)
        rows = session.execute(select(Person.person_id, Person.name, Person.template).where(Person.model_version == model_version).order_by(Person.person_id)).all()
    if not rows:
        return GalleryMap(generation, [], [], np.zeros((0, 2), np.float32), [], time.perf_counter() - started)
    vectors = np.stack([codec.decode(t) for _, _, t in rows]).astype(np.float32)
    ids, names = [r[0] for r in rows], [r[1] for r in rows]
    return GalleryMap(generation, ids, names, _projection(vectors), _closest_pairs(vectors, ids, pairs), time.perf_counter() - started)


def _projection(vectors: np.ndarray) -> np.ndarray:
    """PCA to two dimensions, scaled into the unit square (deterministic, unlike UMAP, and
    fast: a 10,000 x 128 SVD takes a fraction of a second)."""
    centred = vectors - vectors.mean(axis=0)
    if len(vectors) < 3:
        return np.full((len(vectors), 2), 0.5, np.float32)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    span = np.maximum(xy.max(axis=0) - xy.min(axis=0), 1e-9)
    return ((xy - xy.min(axis=0)) / span).astype(np.float32)


def _closest_pairs(vectors: np.ndarray, ids: list[str], count: int) -> list[ClosePair]:
    """Each person's nearest other person (exact search), the most similar ``count`` pairs."""
    if len(vectors) < 2:
        return []
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    sims, nearest = index.search(vectors, 2)
    seen: dict[tuple[int, int], float] = {}
    for i, (row_s, row_n) in enumerate(zip(sims, nearest)):
        j, s = (int(row_n[1]), float(row_s[1])) if int(row_n[0]) == i else (int(row_n[0]), float(row_s[0]))
        seen[(min(i, j), max(i, j))] = s
    best = sorted(seen.items(), key=lambda kv: -kv[1])[:count]
    return [ClosePair(ids[a], ids[b], s) for (a, b), s in best]
