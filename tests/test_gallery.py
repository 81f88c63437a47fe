"""The gallery index kinds: exact below the size threshold, an inverted file above it (the size
threshold is lowered here so the test builds in a second)."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from gatekeeper.match import gallery
from gatekeeper.match.gallery import GalleryIndex


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("ivf_from, kind", [(10**9, faiss.IndexFlat), (1_000, faiss.IndexIVF)])
def test_index_kind_by_size_finds_people_and_replaces_in_place(monkeypatch, ivf_from: int, kind: type) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(gallery, "IVF_FROM", ivf_from)
    rng = np.random.default_rng(0)
    vectors = _unit(rng.normal(size=(4_000, 128)))
    ids = np.arange(1, 4_001)
    index = GalleryIndex.build(vectors, ids, [f"p{i}" for i in ids], 128, generation=1, model_version="m")
    assert isinstance(faiss.downcast_index(index.index.index), kind)
    probes = _unit(vectors[:200] + rng.normal(scale=0.06, size=(200, 128)))  # new photos of p1..p200
    found = [c[0].person_id for c in index.search(probes, k=2)]
    assert sum(f == f"p{i}" for i, f in zip(ids[:200], found)) >= 196  # IVF may miss a few; exact none
    new_vector = _unit(rng.normal(size=(1, 128)))[0]
    assert index.upsert(7, "p7", new_vector, generation=2)  # re-enrolled: replaced, not added
    assert len(index) == 4_000 and index.generation == 2
    best = index.search(new_vector[None], k=1)[0][0]
    assert best.person_id == "p7" and best.similarity == pytest.approx(1.0, abs=1e-5)
