"""The LFW protocol code: reproduces known accuracies on synthetic scores, reads the real pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="evaluation needs the train extra (scikit-learn's ROC): pip install -e '.[train]'")

from gatekeeper.training.lfw import best_threshold, read_pairs  # noqa: E402
from gatekeeper.training.verification import roc_curve, tar_at, ten_fold_report  # noqa: E402


def _synthetic(errors_per_fold: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """600 pairs per fold; in fold f, ``errors_per_fold[f]`` impostors score above every genuine pair
    would otherwise be perfectly separated at 0.5."""
    scores, same, fold = [], [], []
    rng = np.random.default_rng(0)
    for f, errors in enumerate(errors_per_fold):
        genuine = rng.uniform(0.6, 0.9, 300)
        impostor = rng.uniform(0.1, 0.4, 300)
        impostor[:errors] = rng.uniform(0.95, 0.99, errors)  # unavoidable mistakes
        scores += [genuine, impostor]
        same += [np.ones(300, bool), np.zeros(300, bool)]
        fold += [np.full(600, f)]
    return np.concatenate(scores), np.concatenate(same), np.concatenate(fold)


def test_ten_fold_accuracy_is_reproduced() -> None:
    errors = [0, 3, 6, 0, 12, 0, 0, 6, 3, 0]
    scores, same, fold = _synthetic(errors)
    report = ten_fold_report(scores, same, fold)
    np.testing.assert_allclose(report.fold_accuracy, [1 - e / 600 for e in errors])
    assert abs(report.mean_accuracy - (1 - sum(errors) / 6000)) < 1e-12
    assert all(0.4 <= t <= 0.6 for t in report.fold_threshold)


def test_thresholds_stay_inside_their_group() -> None:
    scores, same, fold = _synthetic([0] * 10)
    # Make group B's scores live on another scale: a threshold tuned on group A would fail there.
    b = fold >= 5
    scores[b] = scores[b] * 0.5
    report = ten_fold_report(scores, same, fold, [set(range(5)), set(range(5, 10))])
    assert report.mean_accuracy == 1.0
    assert all(t < 0.3 for t in report.fold_threshold[5:])


def test_best_threshold_and_tar_at_far() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.35, 0.3, 0.2])
    same = np.array([True, True, True, False, False, False])
    assert 0.35 < best_threshold(scores, same) < 0.7
    far, tar = roc_curve(scores, same)
    assert tar_at(far, tar, 0.0) == 1.0
    assert roc_curve(np.array([0.9, 0.1]), np.array([False, True]))[1][1] == 0.0


def test_official_pairs_file(lfw: Path) -> None:
    pairs = read_pairs(lfw / "pairs.txt")
    assert len(pairs.same) == 6000 and pairs.same.sum() == 3000
    assert set(pairs.fold.tolist()) == set(range(10))
    groups = [pairs.identities_in_folds({f}) for f in range(10)]
    for i in range(10):  # folds are person-disjoint
        for j in range(i + 1, 10):
            assert not groups[i] & groups[j]
    assert all((lfw / p).is_file() for p in pairs.left[:50] + pairs.right[-50:])
