"""What a face detector gives the pipeline, without any detector loaded (no torch): a face's box,
landmarks and score, the detector interface, and MTCNN's search profiles. ``detect.py`` runs
MTCNN, ``yunet.py`` YuNet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FaceDetection:
    """One detected face in image pixel coordinates."""

    box: np.ndarray  # (4,) float32: x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2) float32: left eye, right eye, nose, mouth left, mouth right
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def inter_eye_px(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))

    @property
    def centre(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])


@dataclass(frozen=True)
class DetectorProfile:
    """How hard MTCNN looks. Each knob trades time for faces found (bench/frame_latency.py)."""

    min_face_px: int  # smallest face box searched: fewer pyramid levels when larger
    max_side: int  # images are downscaled to this long side first: fewer pixels, smaller crops
    pyramid_factor: float = 0.709  # scale step between pyramid levels: fewer levels when smaller
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)  # P/R/O-net: fewer candidates when higher


# Enrollment and `verify` photos: thorough (MTCNN's own thresholds and pyramid, as the training
# caches used, with min face 40 and long side 640 there), faces down to 64 px, large photos kept large.
PHOTO_PROFILE = DetectorProfile(min_face_px=64, max_side=1024)
# Training and evaluation photos (`gatekeeper train cache`): MTCNN's defaults. Changing it changes
# every cached crop, and so the trained model and its calibration.
TRAINING_PROFILE = DetectorProfile(min_face_px=40, max_side=640)
TRAINING_MIN_SCORE = 0.90


class Detector(Protocol):
    """What the pipeline needs of a face detector (MTCNN below, YuNet in ``yunet.py``)."""

    min_score: float | None  # the confidence a face needs; None: the setting min_detection_score

    def detect(self, image_rgb: np.ndarray) -> list["FaceDetection"]: ...
