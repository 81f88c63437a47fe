"""Track fusion: a track's frames are matched as one quality-weighted mean embedding."""

from __future__ import annotations

import numpy as np

from gatekeeper.vision.quality import FaceQuality
from gatekeeper.door.track import Track


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, np.float32)
    return a / np.linalg.norm(a)


def test_fused_embedding_is_the_weighted_mean_of_the_recent_window() -> None:
    track = Track(1, np.zeros(4), 0.0)
    np.testing.assert_allclose(track.fused(_unit([1, 0]), 1.0, window=2), [1, 0], atol=1e-6)
    np.testing.assert_allclose(track.fused(_unit([0, 1]), 1.0, window=2), _unit([1, 1]), atol=1e-6)
    # A third frame pushes the first out of the window of 2; the weight tilts the mean.
    np.testing.assert_allclose(track.fused(_unit([0, -1]), 3.0, window=2), [0, -1], atol=1e-6)
    assert len(track.evidence) == 2


def test_better_faces_weigh_more() -> None:
    good = FaceQuality(detection_score=0.99, inter_eye_px=80, sharpness=200, yaw=0.0, brightness=120)
    small_turned = FaceQuality(detection_score=0.92, inter_eye_px=41, sharpness=200, yaw=0.4, brightness=120)
    assert good.weight(40) > 2 * small_turned.weight(40) > 0
