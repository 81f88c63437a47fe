"""Training data: cached faces split into a labelled (P x K) pool and a distillation pool."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gatekeeper.training.facecache import CachedFaces


@dataclass
class TrainingPool:
    crops: np.ndarray  # (N, 112, 112, 3) uint8
    identity: np.ndarray  # (N,) int, -1 for photos with no usable identity (distillation only)
    teacher: np.ndarray  # (N, 128) float32, NaN where absent

    @property
    def by_identity(self) -> list[np.ndarray]:
        order = np.argsort(self.identity, kind="stable")
        ids, starts = np.unique(self.identity[order], return_index=True)
        groups = np.split(order, starts[1:])
        return [g for i, g in zip(ids, groups) if i >= 0 and len(g) >= 2]

    @property
    def with_teacher(self) -> np.ndarray:
        return np.flatnonzero(np.isfinite(self.teacher).all(axis=1))


def assemble_pool(caches: dict[str, CachedFaces], excluded_identities: dict[str, set[str]]) -> TrainingPool:
    """Merge datasets, dropping excluded (held-out) identities and faces MTCNN did not find."""
    crops, identity, teacher = [], [], []
    next_id = 0
    for name, cache in caches.items():
        banned = excluded_identities.get(name, set())
        keep = cache.detected & ~np.isin(cache.labels, list(banned))
        labels = cache.labels[keep]
        ids = np.full(len(labels), -1)
        named = labels != ""
        uniq, inverse = np.unique(labels[named], return_inverse=True)
        ids[named] = inverse + next_id
        next_id += len(uniq)
        crops.append(cache.crops[keep])
        identity.append(ids)
        teacher.append(cache.teacher[keep])
    return TrainingPool(np.concatenate(crops), np.concatenate(identity), centred(np.concatenate(teacher)))


def centred(teacher: np.ndarray) -> np.ndarray:
    """Teacher vectors minus their mean.

    dlib's descriptors share a large common component: normalised as they are, every face lies in
    a narrow cone (cosine ~0.9 between strangers). Distances are what dlib's model was trained on,
    and centring keeps them while spreading the directions over the sphere, which is the geometry a
    cosine threshold and a triplet margin expect.
    """
    ok = np.isfinite(teacher).all(axis=1)
    if not ok.any():
        return teacher
    out = teacher.copy()
    out[ok] -= teacher[ok].mean(axis=0)
    return out


class PKBatches:
    """Batches of P identities x K photos each, plus U distillation-only photos.

    PK sampling guarantees every anchor has positives and many negatives in the batch, which is
    what online hard-negative mining needs to find informative triplets.
    """

    def __init__(self, pool: TrainingPool, p: int, k: int, u: int, seed: int) -> None:
        self.groups = pool.by_identity
        self.teacher_idx = pool.with_teacher
        self.p, self.k, self.u = p, k, u
        self.rng = np.random.default_rng(seed)
        if len(self.groups) < p:
            raise ValueError(f"only {len(self.groups)} identities with 2+ photos; P={p} needs more")

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices into the pool and their PK labels (-1 for the distillation-only part)."""
        chosen = self.rng.choice(len(self.groups), self.p, replace=False)
        idx, labels = [], []
        for label, g in enumerate(chosen):
            group = self.groups[g]
            idx.append(self.rng.choice(group, self.k, replace=len(group) < self.k))
            labels.append(np.full(self.k, label))
        if self.u and len(self.teacher_idx):
            idx.append(self.rng.choice(self.teacher_idx, self.u, replace=False))
            labels.append(np.full(self.u, -1))
        return np.concatenate(idx), np.concatenate(labels)
