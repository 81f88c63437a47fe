"""The LFW View-2 verification protocol: 6,000 pairs in 10 person-disjoint folds.

Accuracy on each fold uses a threshold chosen on other folds only. When a fold's scores come from a
model that trained on some other folds (cross-validation), ``threshold_groups`` restricts the
threshold search to folds that model also never saw, so no figure leans on trained-on identities.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class LfwPairs:
    left: list[str]  # relative photo paths "<Name>/<Name>_0001.jpg"
    right: list[str]
    same: np.ndarray  # (6000,) bool
    fold: np.ndarray  # (6000,) int 0..9

    def identities_in_folds(self, folds: set[int]) -> set[str]:
        names: set[str] = set()
        for a, b, f in zip(self.left, self.right, self.fold):
            if int(f) in folds:
                names.add(a.split("/")[0])
                names.add(b.split("/")[0])
        return names


def _photo(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def read_pairs(path: Path) -> LfwPairs:
    lines = path.read_text().split("\n")
    folds, per_fold = (int(v) for v in lines[0].split())
    left, right, same, fold = [], [], [], []
    rows = [ln.split() for ln in lines[1:] if ln.strip()]
    for i, row in enumerate(rows):
        if len(row) == 3:
            left.append(_photo(row[0], row[1]))
            right.append(_photo(row[0], row[2]))
            same.append(True)
        else:
            left.append(_photo(row[0], row[1]))
            right.append(_photo(row[2], row[3]))
            same.append(False)
        fold.append(i // (2 * per_fold))
    if len(rows) != folds * 2 * per_fold:
        raise ValueError(f"{path}: expected {folds * 2 * per_fold} pairs, found {len(rows)}")
    return LfwPairs(left, right, np.array(same), np.array(fold))


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The similarity threshold that maximises accuracy on these pairs (midpoints of sorted scores)."""
    order = np.sort(np.unique(scores))
    candidates = np.concatenate([[order[0] - 1e-6], (order[1:] + order[:-1]) / 2, [order[-1] + 1e-6]])
    # Accuracy for every candidate at once: positives above plus negatives at or below.
    pos = np.sort(scores[same])
    neg = np.sort(scores[~same])
    tp = len(pos) - np.searchsorted(pos, candidates, side="left")
    tn = np.searchsorted(neg, candidates, side="left")
    return float(candidates[int(np.argmax(tp + tn))])
