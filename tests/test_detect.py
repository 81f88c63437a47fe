"""The detector's one seam into facenet-pytorch: MTCNN's resampling, done by OpenCV.

facenet-pytorch offers no hook for its resize step; it looks ``imresample`` up in its
``detect_face`` module at call time, and gatekeeper replaces that function (several times faster
on a CPU). These tests fail loudly if a facenet-pytorch upgrade stops calling it, rather than let
the door silently lose the speed-up, and check that both resamplers find the same face."""

from __future__ import annotations

import facenet_pytorch.models.utils.detect_face as mtcnn_stages
import numpy as np
import pytest

from gatekeeper.demo import astronaut
from gatekeeper.vision import detect
from gatekeeper.vision.detect import FaceDetector, use_opencv_resampling


def test_mtcnn_resamples_through_the_replaced_function(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = detect.opencv_area_resample

    def counting(images, size):  # type: ignore[no-untyped-def]
        calls.append(size)
        return original(images, size)

    monkeypatch.setattr(mtcnn_stages, "imresample", counting)
    FaceDetector(min_face_px=64).detect(astronaut())
    assert calls, "facenet-pytorch no longer calls detect_face.imresample: the OpenCV resampling is not in use"


def test_both_resamplers_find_the_same_face() -> None:
    image = astronaut()
    detector = FaceDetector(min_face_px=64)
    try:
        use_opencv_resampling(False)
        (torch_face,) = [f for f in detector.detect(image) if f.score > 0.9]
    finally:
        use_opencv_resampling(True)
    (opencv_face,) = [f for f in detector.detect(image) if f.score > 0.9]
    eye = torch_face.inter_eye_px
    assert np.abs(opencv_face.landmarks - torch_face.landmarks).max() < 0.05 * eye
