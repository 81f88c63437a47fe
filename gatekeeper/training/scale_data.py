"""The people of the gallery-scale protocol, as the shipped model embeds them.

Everything here comes from ``../shared/datasets`` and is cut so that no figure leans on what the
shipped model trained on (cross-validation model "A": LFW folds 1-5, CelebA half A and UTKFace
photos from 4,000 on are never trained on):

- **staff and strangers** are held-out identities only, split once more into a *calibration*
  share (LFW folds 1-2, every other CelebA half-A identity, UTKFace 4,000-4,999), from which the
  shipped open-set calibration is measured, and an *evaluation* share (LFW folds 3-5, the other
  CelebA half-A identities, UTKFace 5,000-5,999), on which the bench reports;
- **distractor employees** fill galleries up to 10,000 people, one photo each: UTKFace 6,000-15,999
  (never trained on), then trained-on LFW and CelebA identities (a gallery is what it is; none
  of them is ever a probe).

Embeddings are the product's: the shipped encoder on the face cache's aligned crops, mirror-
averaged as enrollment and the door embed. They are cached per model version under the face
cache (``.cache/faces/<template>/embeddings``); ``gatekeeper train cache`` and this module's
``build`` recreate everything from the datasets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from gatekeeper.training.facecache import build_cache, load_cache
from gatekeeper.training.recipes import CV_GROUPS, UTK_STRANGERS, UTK_TRAIN, cache_root, celeba_half, datasets_root, lfw_pairs
from gatekeeper.vision.encoder import FaceEncoder

UTK_DISTRACTORS = 10_000  # UTKFace photos after the strangers' share: never trained on, enrolled as distractors
CALIBRATION_LFW_FOLDS = {0, 1}  # of the held-out folds 0-4 (View 2 folds 1-5)
# Pool hygiene. The datasets share people: UTKFace holds celebrities who are also in LFW and
# CelebA, and the same UTKFace person under several file names; LFW and CelebA each hold a few
# people under two labels. Such a "stranger" matching a distractor is the same person, not a false
# accept. A distractor is taken out of the pool when a held-out face matches it at SAME_PHOTO or
# above (the same photo or person: no two different people in LFW's 34 M held-out pairs reach it
# more than a handful of times), or when two photos of one held-out identity both match it at
# SAME_PERSON or above (consistent across photos: identity, not chance).
SAME_PHOTO = 0.985
SAME_PERSON = 0.96


@dataclass(frozen=True)
class Faces:
    """Embedded faces of one dataset: one row per photo the detector found."""

    emb: np.ndarray  # (N, D) float32 unit vectors
    labels: np.ndarray  # (N,) identity ("" for UTKFace, where each photo counts as its own person)
    paths: np.ndarray  # (N,) relative path

    def rows(self, mask: np.ndarray) -> "Faces":
        return Faces(self.emb[mask], self.labels[mask], self.paths[mask])

    def __len__(self) -> int:
        return len(self.paths)


def _cache_specs() -> dict[str, tuple[str, bool, int, int | None]]:
    """cache name -> (dataset folder, labelled, offset, limit)."""
    return {
        "lfw": ("lfw", True, 0, None),
        "celeba": ("celeba", True, 0, None),
        "utkface-strangers": ("utkface", False, UTK_TRAIN, UTK_STRANGERS),
        "utkface-distractors": ("utkface", False, UTK_TRAIN + UTK_STRANGERS, UTK_DISTRACTORS),
    }


def embedded(name: str, encoder: FaceEncoder, workers: int = 2, build: bool = True) -> Faces:
    """The detected faces of cache ``name`` embedded by ``encoder`` (built and cached on first use
    unless ``build`` is False: then FileNotFoundError)."""
    path = cache_root() / "embeddings" / encoder.version / f"{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            return Faces(data["emb"], data["labels"], data["paths"])
    if not build:
        raise FileNotFoundError(f"no embedded faces at {path}: run `gatekeeper train calibrate-openset` or this bench without --quick to build them (~20 min on 2 cores)")
    folder, labelled, offset, limit = _cache_specs()[name]
    out = cache_root() / name
    cache = load_cache(out) if any(out.glob("shard-*.npz")) else build_cache(datasets_root() / folder, out, labelled=labelled, offset=offset, limit=limit, workers=workers)
    keep = np.flatnonzero(cache.detected)
    emb = encoder.embed(cache.crops[keep], flip=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path) + ".tmp.npz"
    np.savez(tmp, emb=emb, labels=cache.labels[keep], paths=cache.paths[keep])
    os.replace(tmp, path)
    return Faces(emb, cache.labels[keep], cache.paths[keep])


@dataclass(frozen=True)
class ScaleProtocol:
    """Who may be staff or stranger (held-out, one share) and who fills the gallery."""

    identities: Faces  # labelled held-out photos of this share (LFW + CelebA): staff and strangers
    unlabelled: Faces  # held-out UTKFace photos of this share: strangers only
    distractors: Faces  # one photo per distractor employee, never a probe

    def staff_and_strangers(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(identities with 2+ photos that may be staff, the others), shuffled by ``seed``:
        half of the multi-photo identities are staff, the rest and the single-photo ones strangers."""
        names, counts = np.unique(self.identities.labels, return_counts=True)
        multi = np.random.default_rng(seed).permutation(names[counts >= 2])
        staff = multi[: len(multi) // 2]
        return staff, np.setdiff1d(names, staff)


def protocol(share: str, encoder: FaceEncoder, build: bool = True) -> ScaleProtocol:
    """``share``: "calibration" or "evaluation" (held-out identities split in two)."""
    if share not in ("calibration", "evaluation"):
        raise ValueError(f"unknown share {share!r}: calibration or evaluation")
    lfw, celeba = embedded("lfw", encoder, build=build), embedded("celeba", encoder, build=build)
    utk_s, utk_d = embedded("utkface-strangers", encoder, build=build), embedded("utkface-distractors", encoder, build=build)
    pairs = lfw_pairs()
    held_folds = CV_GROUPS["A"]
    cal_folds = CALIBRATION_LFW_FOLDS if share == "calibration" else held_folds - CALIBRATION_LFW_FOLDS
    lfw_names = pairs.identities_in_folds(cal_folds)
    held_celeba = sorted(celeba_half(celeba.labels, "A"))
    celeba_names = set(held_celeba[0::2] if share == "calibration" else held_celeba[1::2])
    identities = _concat([lfw.rows(np.isin(lfw.labels, list(lfw_names))), celeba.rows(np.isin(celeba.labels, list(celeba_names)))])
    half = len(utk_s) // 2
    unlabelled = utk_s.rows(np.arange(len(utk_s)) < half if share == "calibration" else np.arange(len(utk_s)) >= half)
    trained_lfw = ~np.isin(lfw.labels, list(pairs.identities_in_folds(held_folds)))
    trained_celeba = ~np.isin(celeba.labels, list(celeba_half(celeba.labels, "A")))
    distractors = _concat([utk_d, _first_photo(lfw.rows(trained_lfw)), _first_photo(celeba.rows(trained_celeba))])
    held_out = _concat([lfw.rows(np.isin(lfw.labels, list(pairs.identities_in_folds(held_folds)))), celeba.rows(~trained_celeba), utk_s])
    return ScaleProtocol(identities, unlabelled, distractors.rows(~same_people(held_out, distractors)))


def same_people(held_out: Faces, pool: Faces, chunk: int = 1024) -> np.ndarray:
    """Which pool members are the same person as some held-out face (see SAME_PHOTO)."""
    hit = np.zeros(len(pool), bool)
    per_identity: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(held_out), chunk):
        sims = held_out.emb[i : i + chunk] @ pool.emb.T
        hit |= (sims >= SAME_PHOTO).any(axis=0)
        for label, row in zip(held_out.labels[i : i + chunk], sims):
            if label:
                per_identity.setdefault(str(label), []).append(np.flatnonzero(row >= SAME_PERSON))
    for hits in per_identity.values():
        if len(hits) >= 2:
            members, counts = np.unique(np.concatenate(hits), return_counts=True)
            hit[members[counts >= 2]] = True
    return hit


def _first_photo(faces: Faces) -> Faces:
    _, first = np.unique(faces.labels, return_index=True)
    return faces.rows(np.sort(first))


def _concat(parts: list[Faces]) -> Faces:
    return Faces(np.concatenate([p.emb for p in parts]), np.concatenate([p.labels for p in parts]), np.concatenate([p.paths for p in parts]))
