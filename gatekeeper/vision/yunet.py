"""YuNet: a small face detector (0.3 MB, Apache-2.0, ShiqiYu/libfacedetection.train) that OpenCV
runs, for door frames (``door_detector = yunet``).

YuNet finds faces; their five landmarks and box come from MTCNN's own last stage. Everything
downstream (alignment templates, the quality gate, liveness crops, the calibration) was fitted to
MTCNN's points, and YuNet marks the eyes and mouth a little differently: mapping its points onto
MTCNN's by one similarity transform (``models/yunet.json``, ``gatekeeper train yunet-landmarks``)
left them 9.9 % of the eye distance from MTCNN's on LFW door frames and cost 0.2-0.4 points of
LFW accuracy (bench/door_detector.py). So the mapped box, squared as MTCNN squares its
candidates, is handed to MTCNN's output network (ONet, 48x48 input, ~1-2 ms), which places the
landmarks and refines the box just as it does after MTCNN's second stage: 3.6-4.0 % from
MTCNN's points, and the door's accuracy with it.
"""
from __future__ import annotations

import hashlib
import json
import math
from functools import cached_property

import cv2
import numpy as np

from gatekeeper.errors import EnvironmentFault
from gatekeeper.vision.align import ARCFACE_112
from gatekeeper.vision.faces import FaceDetection
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
    landmarks, box and score in MTCNN's convention: the score is MTCNN's output network's face
    probability, so the setting ``min_detection_score`` and the quality gate mean what they mean
    for MTCNN (YuNet's own scores run lower: gated at 0.9, a tenth of door faces were refused as
    uncertain). YuNet's threshold in the manifest picks the candidates."""

    min_score: float | None = None

    def __init__(self, max_side: int = 320, min_face_px: int = 80) -> None:
        card = yunet_manifest()
        weights = MODELS_DIR / card["file"]
        if not weights.is_file() or hashlib.sha256(weights.read_bytes()).hexdigest() != card["sha256"]:
            raise YuNetFileError(f"{weights}: missing or not the file models/{MANIFEST} names (sha256)")
        stage = card.get("last_stage", {})
        onet = MODELS_DIR / stage.get("file", ONET_FILE)
        if not onet.is_file() or hashlib.sha256(onet.read_bytes()).hexdigest() != stage.get("sha256"):
            raise YuNetFileError(f"{onet}: missing or not the file models/{MANIFEST} names (sha256): gatekeeper train yunet-last-stage")
        if "mtcnn_mapping" not in card:
            raise YuNetFileError(f"models/{MANIFEST} has no landmark mapping: run gatekeeper train yunet-landmarks")
        self.max_side, self.min_face_px, self._card = max_side, min_face_px, card
        self._means = np.asarray(card["mtcnn_mapping"]["yunet_in_arcface_112"], np.float32)
        self._box = np.asarray(card["mtcnn_mapping"]["mtcnn_box_in_arcface_112"], np.float32)

    @cached_property
    def _net(self) -> cv2.FaceDetectorYN:
        return yunet_net(self._card, self.max_side)

    @cached_property
    def _onet(self) -> cv2.dnn.Net:
        return cv2.dnn.readNetFromONNX(str(MODELS_DIR / self._card["last_stage"]["file"]))

    def detect(self, image_rgb: np.ndarray) -> list[FaceDetection]:
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"not an RGB image: shape {image_rgb.shape}, dtype {image_rgb.dtype}")
        h, w = image_rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = image_rgb if scale == 1.0 else cv2.resize(image_rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        self._net.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self._net.detect(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        kept = [row for row in (rows if rows is not None else []) if max(float(row[2]), float(row[3])) / scale >= self.min_face_px]
        boxes = [yunet_to_mtcnn(row[4:14].reshape(5, 2).astype(np.float32) / scale, self._means, self._box)[1] for row in kept]
        faces = [FaceDetection(box, landmarks, score) for box, landmarks, score in self._last_stage(image_rgb, boxes)]
        return sorted(faces, key=lambda f: f.score, reverse=True)

    def _last_stage(self, image_rgb: np.ndarray, boxes: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """(box, landmarks, face probability) of each face from MTCNN's output network on its
        squared box, cut and read back with MTCNN's own pixel conventions: landmarks on LFW door
        frames 3.6 % of the eye distance from MTCNN's (4.1 % with rounded crops; a second pass on
        the regressed box brought 3.2 % but called more faces extreme poses), and its box
        regression, which puts the box within 4-5 % of the face width of MTCNN's."""
        if not boxes:
            return []
        squares = [mtcnn_square(b) for b in boxes]
        self._onet.setInput(np.ascontiguousarray(np.stack([onet_input(image_rgb, sq) for sq in squares]).transpose(0, 3, 1, 2)))
        shift, points, prob = self._onet.forward(list(ONET_OUTPUTS))
        out = []
        for (x1, y1, side), reg, pts, p in zip(squares, shift, points, prob):
            span = side + 1  # MTCNN's box width counts both edge pixels; its points are placed from x1 - 1
            landmarks = np.stack([pts[:5] * span + x1 - 1, pts[5:] * span + y1 - 1], axis=1).astype(np.float32)
            out.append((np.array([x1, y1, x1 + side, y1 + side], np.float32) + reg.astype(np.float32) * span, landmarks, float(p[1])))
        return out


# MTCNN's output network (ONet) as ONNX, run by OpenCV (0.5 ms a face; torch took 1.4-2.1 ms).
ONET_FILE = "mtcnn-onet.onnx"
ONET_INPUT = 48
ONET_OUTPUTS = ("shift", "points", "prob")  # box regression, 5 landmarks (x then y), face/no face


def mtcnn_square(box: np.ndarray) -> tuple[float, float, float]:
    """(left, top, side) of the square MTCNN makes of a candidate box (same centre, longer side)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1)
    return (x1 + x2 - side) / 2, (y1 + y2 - side) / 2, side


def onet_input(image_rgb: np.ndarray, square: tuple[float, float, float]) -> np.ndarray:
    """The 48x48 float input of MTCNN's output network for this square, cut as MTCNN cuts it
    (from the pixel before the truncated corner to the truncated far corner, both included),
    zero-filled past the frame's edges, scaled as MTCNN scales it."""
    x1, y1, side = square
    left, top = math.trunc(x1) - 1, math.trunc(y1) - 1
    width, height = max(1, math.trunc(x1 + side) - left), max(1, math.trunc(y1 + side) - top)
    h, w = image_rgb.shape[:2]
    patch = np.zeros((height, width, 3), np.uint8)
    sx, sy, ex, ey = max(0, left), max(0, top), min(w, left + width), min(h, top + height)
    if ex > sx and ey > sy:
        patch[sy - top : ey - top, sx - left : ex - left] = image_rgb[sy:ey, sx:ex]
    return (cv2.resize(patch, (ONET_INPUT, ONET_INPUT), interpolation=cv2.INTER_AREA).astype(np.float32) - 127.5) * 0.0078125


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
