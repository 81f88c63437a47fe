"""YuNet: a small face detector (0.3 MB, Apache-2.0, ShiqiYu/libfacedetection.train) that OpenCV
runs without torch, for door frames (``door_detector = yunet``).

Its five landmarks are not MTCNN's: YuNet marks the eye centres and mouth corners a little
differently. Everything downstream (alignment templates, the quality gate, liveness crops) was
fitted to MTCNN's points, so each YuNet face's landmarks are mapped to where MTCNN would put them:
``models/yunet.json`` holds the mean YuNet landmarks in the ArcFace-112 frame of MTCNN's points,
measured on LFW photos (``python bench/yunet_landmarks.py``); a face's YuNet points are fitted to
those means by a similarity transform, whose inverse carries the ArcFace template (MTCNN's points
there) back into the frame.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property

import cv2
import numpy as np

from gatekeeper.errors import EnvironmentFault
from gatekeeper.vision.align import ARCFACE_112
from gatekeeper.vision.detect import FaceDetection
from gatekeeper.vision.model_files import MODELS_DIR

MANIFEST = "yunet.json"


class YuNetFileError(EnvironmentFault):
    """The YuNet model or its manifest is missing, altered, or lacks the landmark mapping."""


def yunet_manifest() -> dict:  # type: ignore[type-arg]
    path = MODELS_DIR / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise YuNetFileError(f"{path}: {exc}") from exc


def yunet_net(card: dict, size: int) -> cv2.FaceDetectorYN:  # type: ignore[type-arg]
    """OpenCV's YuNet runner for the manifest's model, thresholds and an initial input size."""
    return cv2.FaceDetectorYN.create(str(MODELS_DIR / card["file"]), "", (size, size), float(card["score_threshold"]), float(card["nms_threshold"]), 100)


class YuNetDetector:
    """Same interface as ``detect.FaceDetector``: faces in an RGB image, best score first, with
    landmarks in MTCNN's convention. ``min_score`` replaces the MTCNN-calibrated confidence bar."""

    def __init__(self, max_side: int = 320, min_face_px: int = 80) -> None:
        card = yunet_manifest()
        weights = MODELS_DIR / card["file"]
        if not weights.is_file() or hashlib.sha256(weights.read_bytes()).hexdigest() != card["sha256"]:
            raise YuNetFileError(f"{weights}: missing or not the file models/{MANIFEST} names (sha256)")
        if "mtcnn_mapping" not in card:
            raise YuNetFileError(f"models/{MANIFEST} has no landmark mapping: run python bench/yunet_landmarks.py")
        self.max_side, self.min_face_px, self._card = max_side, min_face_px, card
        self.min_score = float(card["score_threshold"])
        self._means = np.asarray(card["mtcnn_mapping"]["yunet_in_arcface_112"], np.float32)
        self._box = np.asarray(card["mtcnn_mapping"]["mtcnn_box_in_arcface_112"], np.float32)

    @cached_property
    def _net(self) -> cv2.FaceDetectorYN:
        return yunet_net(self._card, self.max_side)

    def detect(self, image_rgb: np.ndarray) -> list[FaceDetection]:
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"not an RGB image: shape {image_rgb.shape}, dtype {image_rgb.dtype}")
        h, w = image_rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = image_rgb if scale == 1.0 else cv2.resize(image_rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        self._net.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self._net.detect(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        faces = []
        for row in rows if rows is not None else []:
            x, y, bw, bh = (float(v) / scale for v in row[:4])
            if max(bw, bh) < self.min_face_px:
                continue
            points = row[4:14].reshape(5, 2).astype(np.float32) / scale
            landmarks, box = yunet_to_mtcnn(points, self._means, self._box)
            faces.append(FaceDetection(box, landmarks, float(row[14])))
        return sorted(faces, key=lambda f: f.score, reverse=True)



def yunet_to_mtcnn(points: np.ndarray, means: np.ndarray, box: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Where MTCNN would put this face's five landmarks and its box (the liveness nets crop
    around MTCNN's box): the similarity transform fitting YuNet's points to their means, inverted,
    carries MTCNN's points and box in the ArcFace frame back into the image."""
    matrix, _ = cv2.estimateAffinePartial2D(points.astype(np.float32), means, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("degenerate YuNet landmarks")
    back = cv2.invertAffineTransform(matrix)
    landmarks = (ARCFACE_112.points @ back[:, :2].T + back[:, 2]).astype(np.float32)
    if box is None:
        return landmarks, np.zeros(4, np.float32)
    x1, y1, x2, y2 = box
    corners = np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]], np.float32) @ back[:, :2].T + back[:, 2]
    return landmarks, np.concatenate([corners.min(axis=0), corners.max(axis=0)]).astype(np.float32)
