"""Measuring the open-set calibration that ships in the model manifest (``calibration.openset``).

From the *calibration* share of held-out people (``scale_data``): half of its multi-photo
identities are staff (first photo enrolled, later photos are their visits), everyone else's
photos and its UTKFace faces are strangers. For each gallery size, random galleries are drawn
(staff first, then distractor employees from the pool) and every visit is decided by the door's
rule (best match at or above a threshold and ahead of the runner-up by a margin) for each
threshold and margin of the grid. The evaluation share is never read here: ``bench/gallery_scale.py``
reports on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gatekeeper.core.openset import OpenSetCalibration
from gatekeeper.training.scale_data import Faces, ScaleProtocol

THRESHOLDS = np.round(np.arange(0.90, 1.0, 0.001), 4)
SIZES = (1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000)
MARGINS = (0.0, 0.0136, 0.02, 0.03)
MIN_STAFF_VISITS = 4_000  # draws per size until this many staff visits are decided
MIN_STRANGER_VISITS = 30_000  # ... and this many stranger visits (FPIR 1e-3 then rests on ~30 of them)


@dataclass(frozen=True)
class Visitors:
    """Staff (their enrollment photo and their later photos) and strangers of one share."""

    enrolled: Faces  # one photo per staff member
    visits: Faces  # later photos of staff, labelled with the staff member
    strangers: np.ndarray  # (P, D) every other photo


def visitors(share: ScaleProtocol, seed: int = 0) -> Visitors:
    ids = share.identities
    names, counts = np.unique(ids.labels, return_counts=True)
    multi = np.random.default_rng(seed).permutation(names[counts >= 2])
    staff = np.sort(multi[: len(multi) // 2])
    first = np.array([np.flatnonzero(ids.labels == n)[0] for n in staff])
    is_staff = np.isin(ids.labels, staff)
    later = np.setdiff1d(np.flatnonzero(is_staff), first)
    return Visitors(ids.rows(first), ids.rows(later), np.concatenate([ids.emb[~is_staff], share.unlabelled.emb]))


def top_two(queries: np.ndarray, gallery: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(best similarity, runner-up similarity, best gallery row) of each query."""
    best, second, where = [], [], []
    for i in range(0, len(queries), chunk):
        sims = queries[i : i + chunk] @ gallery.T
        if sims.shape[1] == 1:
            best.append(sims[:, 0]), second.append(np.full(len(sims), -1.0)), where.append(np.zeros(len(sims), int))
            continue
        two = np.argpartition(-sims, 1, axis=1)[:, :2]
        vals = np.take_along_axis(sims, two, axis=1)
        order = np.argsort(-vals, axis=1)
        best.append(np.take_along_axis(vals, order[:, :1], axis=1)[:, 0])
        second.append(np.take_along_axis(vals, order[:, 1:2], axis=1)[:, 0])
        where.append(np.take_along_axis(two, order[:, :1], axis=1)[:, 0])
    return np.concatenate(best), np.concatenate(second), np.concatenate(where)


def draw_gallery(v: Visitors, pool: Faces, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(templates, which staff member each row is, -1 for distractors) of one random gallery."""
    staff_n = len(v.enrolled)
    if size <= staff_n:
        rows = rng.choice(staff_n, size, replace=False)
        return v.enrolled.emb[rows], rows
    extra = rng.choice(len(pool), size - staff_n, replace=False)
    return np.concatenate([v.enrolled.emb, pool.emb[extra]]), np.concatenate([np.arange(staff_n), np.full(len(extra), -1)])


def granted_counts(best: np.ndarray, second: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """(M, T) how many of these visits the rule grants (``ok``: and to the right person)."""
    out = np.zeros((len(MARGINS), len(THRESHOLDS)))
    for k, m in enumerate(MARGINS):
        passing = np.sort(best[ok & (best - second >= m)])
        out[k] = len(passing) - np.searchsorted(passing, THRESHOLDS, side="left")
    return out


def calibrate_openset(share: ScaleProtocol, seed: int = 0) -> tuple[OpenSetCalibration, dict[str, int]]:
    """The shipped tables, and how many visits made them."""
    v = visitors(share, seed)
    rng = np.random.default_rng(seed)
    staff_label = {str(n): i for i, n in enumerate(v.enrolled.labels)}
    visit_owner = np.array([staff_label[str(n)] for n in v.visits.labels])
    fpir = np.zeros((len(MARGINS), len(SIZES), len(THRESHOLDS)))
    staff = np.zeros_like(fpir)
    for i, size in enumerate(SIZES):
        let_in, granted, n_strangers, n_staff = 0.0, 0.0, 0, 0
        while n_staff < MIN_STAFF_VISITS or n_strangers < MIN_STRANGER_VISITS:
            gallery, owner = draw_gallery(v, share.distractors, size, rng)
            mine = np.isin(visit_owner, owner[owner >= 0])
            b, s, w = top_two(v.visits.emb[mine], gallery)
            granted = granted + granted_counts(b, s, owner[w] == visit_owner[mine])
            n_staff += int(mine.sum())
            if n_strangers < MIN_STRANGER_VISITS or size <= 1_000:  # small galleries: every draw, so no few staff stand for all
                b, s, _ = top_two(v.strangers, gallery)
                let_in = let_in + granted_counts(b, s, np.ones(len(b), bool))
                n_strangers += len(b)
        fpir[:, i], staff[:, i] = let_in / n_strangers, granted / n_staff
    # More people can only give a stranger more chances and a staff member more rivals: where
    # sampling noise says otherwise, keep the more cautious figure.
    fpir = np.maximum.accumulate(fpir, axis=1)
    staff = np.minimum.accumulate(staff, axis=1)
    cal = OpenSetCalibration(THRESHOLDS.astype(np.float64), np.array(SIZES, np.float64), np.array(MARGINS), fpir, staff)
    return cal, {"staff_people": len(v.enrolled), "staff_visits": len(v.visits), "strangers": len(v.strangers), "pool": len(share.distractors)}
