"""Training and evaluation recipes: which data each model may see, and honest scoring.

Cross-validation uses two folds groups. Model "A" never sees LFW folds 1-5 (their identities, all
their photos) nor CelebA identity half A; model "B" never sees LFW folds 6-10 nor CelebA half B.
Every reported LFW fold and open-set figure comes from the model that did not train on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gatekeeper.vision.align import TEMPLATES
from gatekeeper.training.facecache import CachedFaces, build_cache, recut_cache
from gatekeeper.training.lfw import LfwPairs, read_pairs

CV_GROUPS: dict[str, set[int]] = {"A": {0, 1, 2, 3, 4}, "B": {5, 6, 7, 8, 9}}
UTK_TRAIN = 4000  # the first N UTKFace photos (sorted) may be trained on ...
UTK_STRANGERS = 2000  # ... the next N are never trained on: open-set strangers


def datasets_root() -> Path:
    return Path(os.environ.get("GATEKEEPER_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets"))


def cache_root(template: str = "dlib-chip-150") -> Path:
    """Face caches live in one folder per alignment template (each encoder has its own crops)."""
    base = Path(os.environ.get("GATEKEEPER_CACHE", Path(__file__).resolve().parents[2] / ".cache" / "faces"))
    return base / template


def build_all_caches(workers: int = 2) -> None:
    """Every cache training and evaluation need; resumable, and rebuildable from nothing."""
    root, out = datasets_root(), cache_root()
    build_cache(root / "lfw", out / "lfw", labelled=True, workers=workers)
    build_cache(root / "celeba", out / "celeba", labelled=True, workers=workers)
    build_cache(root / "utkface", out / "utkface-strangers", labelled=False, offset=UTK_TRAIN, limit=UTK_STRANGERS, workers=workers)
    build_cache(root / "utkface", out / "utkface-train", labelled=False, limit=UTK_TRAIN, workers=workers)


def recut_all_caches(template: str = "dlib-chip-150") -> None:
    """Re-align the cached photos from their stored landmarks after the template changed."""
    root, out = datasets_root(), cache_root(template)
    for name, folder, tight in (("lfw", "lfw", False), ("celeba", "celeba", False), ("utkface-strangers", "utkface", True), ("utkface-train", "utkface", True)):
        recut_cache(root / folder, out / name, TEMPLATES[template], tight_crops=tight)


def celeba_half(identities: np.ndarray, half: str) -> set[str]:
    """A deterministic half of the CelebA identities (sorted, alternating)."""
    uniq = sorted(set(identities.tolist()))
    return set(uniq[0::2] if half == "A" else uniq[1::2])


@dataclass(frozen=True)
class Holdout:
    """What one model must never train on."""

    name: str  # "A", "B" or "none" (the shipped model, trained on everything)
    lfw_folds: set[int]
    lfw_identities: set[str]
    celeba_identities: set[str]

    def exclusions(self) -> dict[str, set[str]]:
        return {"lfw": self.lfw_identities, "celeba": self.celeba_identities}


def holdout(name: str, pairs: LfwPairs, celeba: CachedFaces) -> Holdout:
    if name == "none":
        return Holdout("none", set(), set(), set())
    folds = CV_GROUPS[name]
    return Holdout(name, folds, pairs.identities_in_folds(folds), celeba_half(celeba.labels, name))


def lfw_pairs() -> LfwPairs:
    return read_pairs(datasets_root() / "lfw" / "pairs.txt")


def probe_set(cache: CachedFaces, banned: set[str], identities: int = 8, per_identity: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Photos of a few well-populated identities, for the per-epoch embedding picture."""
    labels = cache.labels
    names, counts = np.unique(labels[~np.isin(labels, list(banned))], return_counts=True)
    chosen = names[np.argsort(-counts)][:identities]
    idx = np.concatenate([np.flatnonzero(labels == n)[:per_identity] for n in chosen])
    return cache.crops[idx], labels[idx]


def features_path(name: str) -> Path:
    return cache_root() / "features" / f"{name}.npz"
