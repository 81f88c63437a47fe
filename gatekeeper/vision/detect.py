"""Face detection: MTCNN boxes, five landmarks and scores for one RGB image.

facenet-pytorch's MTCNN ships its weights inside the wheel, so detection works with no network.
"""

from __future__ import annotations

import cv2
import facenet_pytorch.models.utils.detect_face as mtcnn_stages
import numpy as np
import torch
from facenet_pytorch import MTCNN

from gatekeeper.vision.faces import PHOTO_PROFILE, TRAINING_MIN_SCORE, TRAINING_PROFILE, Detector, DetectorProfile, FaceDetection  # noqa: F401  (re-exported)


_TORCH_AREA_RESAMPLE = mtcnn_stages.imresample


def opencv_area_resample(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """MTCNN's resampling of pyramid levels and candidate crops, done by OpenCV's INTER_AREA: the
    same area average as torch's adaptive pooling when shrinking, and several times faster on a
    CPU, where the per-crop torch calls were a third of the detector's time."""
    frames = images.permute(0, 2, 3, 1).contiguous().numpy()
    out = np.stack([cv2.resize(f, (size[1], size[0]), interpolation=cv2.INTER_AREA) for f in frames])
    return torch.from_numpy(out.reshape(len(frames), size[0], size[1], -1)).permute(0, 3, 1, 2)


def use_opencv_resampling(enabled: bool = True) -> None:
    """facenet-pytorch looks ``imresample`` up at call time; the product always enables this
    (below), the latency benchmark switches it to show its effect."""
    mtcnn_stages.imresample = opencv_area_resample if enabled else _TORCH_AREA_RESAMPLE


use_opencv_resampling()


class FaceDetector:
    """MTCNN wrapper that can detect on a downscaled copy of large frames.

    Detection dominates per-frame cost on a CPU and its cost grows with the pixel count, so large
    frames are shrunk until their long side is at most ``max_side`` before detection; the boxes and
    landmarks are scaled back to the original frame, where alignment takes full-resolution pixels.
    """

    min_score: float | None = None  # MTCNN's scores: the setting min_detection_score applies

    def __init__(
        self,
        min_face_px: int = 40,
        max_side: int = 640,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        pyramid_factor: float = 0.709,
        device: str = "cpu",
    ) -> None:
        self.max_side = max_side
        self.min_face_px = min_face_px
        self._mtcnn = MTCNN(
            keep_all=True,
            min_face_size=max(12, min_face_px),
            thresholds=list(thresholds),
            factor=pyramid_factor,
            device=torch.device(device),
            select_largest=False,
        )

    @classmethod
    def from_profile(cls, profile: DetectorProfile) -> "FaceDetector":
        return cls(profile.min_face_px, profile.max_side, profile.thresholds, profile.pyramid_factor)

    def detect(self, image_rgb: np.ndarray) -> list[FaceDetection]:
        """Return faces in ``image_rgb`` (H, W, 3 uint8), best score first."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"not an RGB image: shape {image_rgb.shape}, dtype {image_rgb.dtype}")
        scale = self._scale_for(image_rgb)
        small = image_rgb if scale == 1.0 else _resize(image_rgb, scale)
        # MTCNN's own minimum face size is in the pixels it sees, so shrink it with the frame.
        self._mtcnn.min_face_size = max(12, int(self.min_face_px * scale))
        if min(small.shape[:2]) < self._mtcnn.min_face_size:
            return []  # no face this large fits; MTCNN would build an empty pyramid and fail
        with torch.inference_mode():
            boxes, probs, points = self._mtcnn.detect(small, landmarks=True)
        if boxes is None:
            return []
        faces = [
            FaceDetection(
                box=(np.asarray(b, dtype=np.float32) / scale),
                landmarks=(np.asarray(p, dtype=np.float32) / scale),
                score=float(s),
            )
            for b, s, p in zip(boxes, probs, points)
        ]
        return sorted(faces, key=lambda f: f.score, reverse=True)

    def _scale_for(self, image_rgb: np.ndarray) -> float:
        long_side = max(image_rgb.shape[:2])
        return 1.0 if long_side <= self.max_side else self.max_side / long_side


def _resize(image_rgb: np.ndarray, scale: float) -> np.ndarray:
    h, w = image_rgb.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)


def most_central_face(faces: list[FaceDetection], image_shape: tuple[int, ...]) -> FaceDetection | None:
    """The confident face nearest the image centre: the subject of a face-centred dataset photo."""
    if not faces:
        return None
    centre = np.array([image_shape[1] / 2, image_shape[0] / 2])
    return min(faces, key=lambda f: float(np.linalg.norm(f.centre - centre)) - f.width * 0.25)
