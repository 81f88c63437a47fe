"""Verification figures from pair scores: ten-fold accuracy, ROC (scikit-learn), AUC, EER, TAR@FAR."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import metrics

from gatekeeper.training.lfw import best_threshold


@dataclass(frozen=True)
class VerificationReport:
    fold_accuracy: np.ndarray
    fold_threshold: np.ndarray
    auc: float
    eer: float
    tar_at_far: dict[float, float]
    roc_far: np.ndarray
    roc_tar: np.ndarray

    @property
    def mean_accuracy(self) -> float:
        return float(self.fold_accuracy.mean())

    @property
    def std_accuracy(self) -> float:
        return float(self.fold_accuracy.std())


def ten_fold_report(
    scores: np.ndarray,
    same: np.ndarray,
    fold: np.ndarray,
    threshold_groups: list[set[int]] | None = None,
) -> VerificationReport:
    groups = threshold_groups or [set(range(int(fold.max()) + 1))]
    accs, ths = [], []
    for f in range(int(fold.max()) + 1):
        group = next(g for g in groups if f in g)
        tune = np.isin(fold, list(group - {f}))
        th = best_threshold(scores[tune], same[tune])
        test = fold == f
        accs.append(float(((scores[test] > th) == same[test]).mean()))
        ths.append(th)
    far, tar = roc_curve(scores, same)
    return VerificationReport(
        fold_accuracy=np.array(accs),
        fold_threshold=np.array(ths),
        auc=float(metrics.auc(far, tar)),
        eer=equal_error_rate(far, tar),
        tar_at_far={t: tar_at(far, tar, t) for t in (1e-3, 1e-2)},
        roc_far=far,
        roc_tar=tar,
    )


def roc_curve(scores: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False-accept and true-accept rates as the threshold sweeps from high to low (scikit-learn's
    ROC, every distinct score kept: TAR at a tiny FAR needs the curve's first points)."""
    far, tar, _ = metrics.roc_curve(same, scores, drop_intermediate=False)
    return far, tar


def tar_at(far: np.ndarray, tar: np.ndarray, target_far: float) -> float:
    """Highest true-accept rate whose false-accept rate does not exceed ``target_far``."""
    ok = far <= target_far
    return float(tar[ok].max()) if ok.any() else 0.0


def equal_error_rate(far: np.ndarray, tar: np.ndarray) -> float:
    frr = 1.0 - tar
    i = int(np.argmin(np.abs(far - frr)))
    return float((far[i] + frr[i]) / 2)
