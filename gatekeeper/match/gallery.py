"""The FAISS gallery: one unit vector per enrolled person, searched by inner product (= cosine).

The index is a cache of the database. Its file carries the database's gallery generation and the
model version; when either differs, or the file is missing, unreadable or not sealed with this
installation's index key, it is rebuilt from the people table. The file is sealed with Fernet
(AES + HMAC): with a template key set the seal key derives from it, so the file holds no template
in the clear; without one, a random key kept in the database authenticates it, so a forged file
(someone's own embedding under a victim's id) is never loaded. The file is written to a unique
temporary name and renamed, so a crash never leaves a half-written index and two writers never
collide.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import faiss
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.types import Candidate
from gatekeeper.storage.files import write_private
from gatekeeper.storage.database import gallery_generation
from gatekeeper.storage.models import Person
from gatekeeper.storage.templates import IndexSeal, TemplateCodec
from gatekeeper.errors import InputError

log = logging.getLogger(__name__)

# From bench/search_scale.py on this project's 2-core machine: exact search costs 6 ms a query at
# 100k people and 59 ms at 1M; an inverted file with nlist = 4 sqrt(n) and nprobe = nlist / 16
# answered in 0.45 ms (recall@1 0.996) at 100k and 4.4 ms p95 (recall@1 0.990) at 1M, where HNSW
# (M 32, efSearch 256) reached only 0.974. IVF also removes vectors in place, which HNSW cannot.
IVF_FROM = 50_000
INDEX_SEAL_PURPOSE = "gallery index seal"  # what the installation key is derived for


class GalleryIndex:
    def __init__(self, index: faiss.Index, people: dict[int, str], generation: int, model_version: str) -> None:
        self.index = index
        self.people = people  # vector_id -> person_id
        self.generation = generation
        self.model_version = model_version
        self.save_error: str | None = None  # why the last rebuild could not be written to disk

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray, vector_ids: np.ndarray, person_ids: list[str], dim: int, generation: int, model_version: str) -> "GalleryIndex":
        index = _new_index(dim, np.ascontiguousarray(vectors, dtype=np.float32))
        if len(vectors):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(vector_ids, dtype=np.int64))
        return cls(index, dict(zip((int(v) for v in vector_ids), person_ids)), generation, model_version)

    def search(self, vectors: np.ndarray, k: int = 3) -> list[list[Candidate]]:
        """The ``k`` most similar enrolled people for each query vector, best first."""
        if len(self) == 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        sims, ids = self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), min(k, len(self)))
        return [
            [Candidate(self.people[int(i)], float(s)) for s, i in zip(row_s, row_i) if i >= 0]
            for row_s, row_i in zip(sims, ids)
        ]

    def similarity_to(self, person_id: str, vector: np.ndarray) -> float | None:
        """Cosine similarity of ``vector`` to one person's template (card + face: 1:1); None when
        the person is not in the gallery."""
        ids = [vid for vid, pid in self.people.items() if pid == person_id]
        if not ids:
            return None
        ivf = faiss.try_extract_index_ivf(self.index)
        if ivf is not None and ivf.direct_map.type == faiss.DirectMap.NoMap:
            ivf.make_direct_map()  # an inverted file reconstructs by id only with its direct map
        return float(self.index.reconstruct(ids[0]) @ np.asarray(vector, dtype=np.float32))

    def upsert(self, vector_id: int, person_id: str, vector: np.ndarray, generation: int) -> bool:
        """Put one person's vector in place, in memory; False where the index kind cannot remove
        the vector it replaces, and the caller rebuilds instead."""
        ids = np.array([vector_id], dtype=np.int64)
        if vector_id in self.people:
            if not isinstance(faiss.downcast_index(self.index.index), (faiss.IndexFlat, faiss.IndexIVF)):
                return False
            self.index.remove_ids(ids)
        self.index.add_with_ids(np.ascontiguousarray(vector[None], dtype=np.float32), ids)
        self.people[vector_id] = person_id
        self.generation = generation
        return True

    def save(self, path: Path, seal: IndexSeal) -> None:
        stamp = {"generation": self.generation, "model_version": self.model_version, "people": {str(k): v for k, v in self.people.items()}}
        raw = io.BytesIO()
        np.savez(raw, index=faiss.serialize_index(self.index), stamp=np.frombuffer(json.dumps(stamp).encode(), dtype=np.uint8))
        write_private(path, seal.seal(raw.getvalue()))

    @classmethod
    def load(cls, path: Path, seal: IndexSeal) -> "GalleryIndex | None":
        """The saved index, or None when missing, unreadable or not sealed with this key (the
        caller rebuilds from the database, which is the truth)."""
        try:
            blob = seal.open(path.read_bytes())
            with np.load(io.BytesIO(blob), allow_pickle=False) as data:
                stamp = json.loads(data["stamp"].tobytes().decode())
                index = faiss.deserialize_index(data["index"])
        except FileNotFoundError:
            return None
        except Exception as exc:  # corrupt, forged or sealed with another key: never trusted
            log.warning("gallery index %s not usable (%s); rebuilding from the database", path, exc)
            return None
        people = {int(k): v for k, v in stamp["people"].items()}
        return cls(index, people, int(stamp["generation"]), str(stamp["model_version"]))


def _new_index(dim: int, vectors: np.ndarray) -> faiss.Index:
    """Exact search for galleries under ``IVF_FROM`` people; an inverted file, trained on the
    gallery itself, above. Ids are ours (the database's vector ids), so removal is by id."""
    if len(vectors) < IVF_FROM:
        return faiss.index_factory(dim, "IDMap2,Flat", faiss.METRIC_INNER_PRODUCT)
    nlist = int(4 * np.sqrt(len(vectors)))
    index = faiss.index_factory(dim, f"IDMap2,IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
    index.train(vectors[np.random.default_rng(0).permutation(len(vectors))[: 40 * nlist]])
    faiss.extract_index_ivf(index).nprobe = max(1, nlist // 16)
    return index


class GalleryModelMismatch(InputError):
    """People were enrolled with another encoder: their vectors cannot be compared with this one's."""


def rebuild_from_database(session: Session, codec: TemplateCodec, dim: int, model_version: str) -> GalleryIndex:
    generation = gallery_generation(session)
    rows = session.execute(select(Person.vector_id, Person.person_id, Person.template, Person.model_version)).all()
    current = [r for r in rows if r.model_version == model_version]
    if len(current) < len(rows):
        # Serving only part of the staff list would silently lock the others out; refuse, and say how to fix it.
        others = sorted({r.model_version for r in rows if r.model_version != model_version})
        raise GalleryModelMismatch(
            f"{len(rows) - len(current)} of {len(rows)} enrolled people have templates from model {', '.join(others)}, "
            f"but this installation runs {model_version}: run `gatekeeper migrate` to re-embed them"
        )
    vectors = np.stack([codec.decode(r.template) for r in current]) if current else np.zeros((0, dim), np.float32)
    return GalleryIndex.build(vectors, np.array([r.vector_id for r in current]), [r.person_id for r in current], dim, generation, model_version)


def gallery_seal(codec: TemplateCodec, installation_key: bytes) -> IndexSeal:
    """The key the index file is sealed with: derived from the template key when one is set
    (the file is then encrypted too), else ``installation_key`` (derived from the audit key).
    Never a key kept in the database: whoever can read a copy of it (a backup, a replica, a
    read-only role) could otherwise seal an index of their own."""
    return codec.index_seal() or IndexSeal(installation_key)


def load_gallery(sessions: sessionmaker[Session], codec: TemplateCodec, path: Path, dim: int, model_version: str, installation_key: bytes) -> GalleryIndex:
    """The index at ``path`` if it is sealed with our key and matches the database and model;
    otherwise a fresh rebuild from the database. A rebuild that cannot be written to disk is still
    served (it is current); the next load rebuilds again."""
    with sessions() as session:
        generation = gallery_generation(session)
        seal = gallery_seal(codec, installation_key)
        cached = GalleryIndex.load(path, seal)
        if cached is not None and cached.generation == generation and cached.model_version == model_version:
            return cached
        log.info("rebuilding gallery index %s (generation %d)", path, generation)
        fresh = rebuild_from_database(session, codec, dim, model_version)
    try:
        fresh.save(path, seal)
    except OSError as exc:
        log.error("gallery index %s could not be written (%s); serving the rebuild from memory", path, exc)
        fresh.save_error = f"the index file {path} could not be written ({exc.strerror or exc}); doors rebuild it from the database"
    return fresh
