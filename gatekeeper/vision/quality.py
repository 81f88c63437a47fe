"""Face quality: is this face good enough to enroll, or to decide on at the door?"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from gatekeeper.config import Settings
from gatekeeper.vision.faces import FaceDetection


@dataclass(frozen=True)
class FaceQuality:
    detection_score: float
    inter_eye_px: float
    sharpness: float  # variance of the Laplacian of the aligned crop
    yaw: float  # nose offset from the eye midpoint, in inter-eye distances (0 = frontal)
    brightness: float  # mean gray level of the aligned crop

    def weight(self, min_inter_eye_px: float) -> float:
        """How much this frame counts in a track's fused embedding: confident, large, frontal
        faces most. In (0, 1]; never 0, so a track of poor frames still has a direction."""
        size = min(1.0, max(0.25, self.inter_eye_px / (2 * min_inter_eye_px)))
        return max(0.05, self.detection_score * size * max(0.2, 1.0 - abs(self.yaw)))

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 3) for k, v in asdict(self).items()}


def assess(face: FaceDetection, crop: np.ndarray) -> FaceQuality:
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    eyes = face.landmarks[:2]
    mid = eyes.mean(axis=0)
    eye_vec = eyes[1] - eyes[0]
    inter_eye = float(np.linalg.norm(eye_vec)) or 1e-6
    # Project the nose offset on the eye line: robust to head roll, grows with yaw.
    yaw = float(np.dot(face.landmarks[2] - mid, eye_vec / inter_eye) / inter_eye)
    return FaceQuality(
        detection_score=face.score,
        inter_eye_px=inter_eye,
        sharpness=float(cv2.Laplacian(gray, cv2.CV_64F).var()),
        yaw=yaw,
        brightness=float(gray[16:96, 16:96].mean()),
    )


class QualityGate:
    """Reasons a face is not usable; an empty list means it passes."""

    def __init__(self, settings: Settings, min_inter_eye_px: float | None = None) -> None:
        self.s = settings
        self.min_inter_eye = settings.min_inter_eye_px if min_inter_eye_px is None else min_inter_eye_px

    def problems(self, q: FaceQuality) -> list[str]:
        s = self.s
        out = []
        if q.detection_score < s.min_detection_score:
            out.append(f"uncertain face (detector score {q.detection_score:.2f} < {s.min_detection_score:.2f})")
        if q.inter_eye_px < self.min_inter_eye:
            out.append(f"face too small ({q.inter_eye_px:.1f} px between the eyes < {self.min_inter_eye:g})")
        if q.sharpness < s.min_sharpness:
            out.append(f"blurred (sharpness {q.sharpness:.0f} < {s.min_sharpness:.0f})")
        if abs(q.yaw) > s.max_yaw:
            out.append(f"extreme pose (yaw {q.yaw:+.2f} beyond +-{s.max_yaw:.2f})")
        if not s.min_brightness <= q.brightness <= s.max_brightness:
            out.append(f"badly exposed (brightness {q.brightness:.0f} outside {s.min_brightness:.0f}-{s.max_brightness:.0f})")
        return out
