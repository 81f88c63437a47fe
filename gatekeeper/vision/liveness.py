"""Liveness evidence: is the face at the door a live person, not a printed photo or a still image?

Two kinds of evidence, both from what the pipeline already has:

- **Passive, per frame**: the two MiniFASNet nets (Apache-2.0, `models/minifasnet-*.pt`, run as
  ONNX by OpenCV's DNN module: `models/minifasnet-*.onnx`, the same outputs to 1e-6) on crops
  of 2.7x and 4.0x the face box, their "live" probabilities averaged. Established on the NUAA
  sample (bench/liveness.py): BGR channel order, raw 0-255 values, class 1 = live (AUC 1.0 there;
  RGB or 0-1 scaling gives AUC < 0.35 or near-constant outputs).
- **Temporal, per track**: a *blink*. MediaPipe's iris-landmark model (Apache-2.0,
  `models/iris-landmark.tflite`, run by LiteRT) traces both eyelids on crops about MTCNN's eye
  points; both eyes' lid gap falling well below its recent median is something a printed or
  on-screen still photo cannot do.
  Parallax of the mesh (a flat photo's points follow one homography) was measured too and did not
  separate live from still faces on these clips (bench/liveness.py): it is not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from gatekeeper.errors import EnvironmentFault
from gatekeeper.vision.model_files import LIVENESS_MANIFEST, MODELS_DIR
from gatekeeper.vision.faces import FaceDetection

MANIFEST = LIVENESS_MANIFEST
INPUT = 80


class LivenessModelError(EnvironmentFault):
    """The liveness nets are missing or do not match their manifest: the door must not open."""


@dataclass
class PassiveNet:
    net: cv2.dnn.Net  # the MiniFASNet as ONNX, run by OpenCV (models/minifasnet-*.onnx)
    scale: float  # crop side = scale x the face box, around its centre


class PassiveLiveness:
    """Live probability of each face in a frame: the ensemble's mean of class ``live_class``."""

    def __init__(self, models_dir: Path | None = None) -> None:
        folder = models_dir or MODELS_DIR
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            self.nets = [PassiveNet(cv2.dnn.readNetFromONNX(str(_checked(folder / n["onnx"], n["onnx_sha256"]))), float(n["scale"])) for n in manifest["nets"]]
        except (OSError, KeyError, ValueError, cv2.error) as exc:
            raise LivenessModelError(f"no usable liveness model in {folder} ({exc}): the door cannot tell a photo from a person and stays shut") from exc
        self.live_class = int(manifest["live_class"])
        self.calibration: dict[str, float] = manifest.get("calibration", {})

    def scores(self, image_rgb: np.ndarray, faces: list[FaceDetection]) -> np.ndarray:
        """(len(faces),) live probabilities in [0, 1]."""
        if not faces:
            return np.zeros(0, np.float32)
        bgr = np.ascontiguousarray(image_rgb[:, :, ::-1])
        total = np.zeros(len(faces), np.float32)
        for p in self.nets:
            crops = np.stack([liveness_crop(bgr, f.box, p.scale) for f in faces]).astype(np.float32)
            p.net.setInput(np.ascontiguousarray(crops.transpose(0, 3, 1, 2)))
            logits = p.net.forward()
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            total += (e / e.sum(axis=1, keepdims=True))[:, self.live_class]
        return total / len(self.nets)


def _checked(path: Path, sha256: str) -> Path:
    if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        raise ValueError(f"{path.name} does not match the sha256 in {MANIFEST}")
    return path


def liveness_crop(image: np.ndarray, box: np.ndarray, scale: float) -> np.ndarray:
    """``scale`` x the box around its centre (shrunk to fit, then shifted inside the image), 80x80:
    the framing the nets were trained on."""
    h, w = image.shape[:2]
    bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
    scale = min((h - 1) / bh, (w - 1) / bw, scale)
    cw, ch = bw * scale, bh * scale
    left = min(max(0.0, (box[0] + box[2]) / 2 - cw / 2), w - 1 - cw)
    top = min(max(0.0, (box[1] + box[3]) / 2 - ch / 2), h - 1 - ch)
    patch = image[int(top) : int(top + ch) + 1, int(left) : int(left + cw) + 1]
    return cv2.resize(patch, (INPUT, INPUT))


# -- temporal evidence: blinks ---------------------------------------------------------------
# MediaPipe's iris-landmark model sees one LEFT eye in a 64x64 crop (the right eye is mirrored
# first) and returns 71 eye-region points; the first 16 trace the eyelids: 0 and 8 are the
# corners, 1-7 the lower lid, 9-15 the upper lid (established on the ZJU blink clips: the gap of
# the pairs below closes on every tagged blink).
EYE_CROP = 64
EYE_SIDE = 1.0  # crop side, in inter-eye distances (MTCNN's eye centres): the eye and its lids
LID_PAIRS = ((11, 3), (12, 4), (13, 5))  # (upper, lower) points facing each other mid-eye
CORNERS = (0, 8)


class EyeOpenness:
    """Eyelid gap over eye width of both eyes, from the iris-landmark model's lid contour: it falls
    by a third or more while a live eye blinks and stays put on a photo (bench/liveness.py). A
    finer lid signal than the face mesh's six eye points (ZJU clips blinking past the same
    still-photo bar: 75/80 against 69/80)."""

    def __init__(self, models_dir: Path | None = None) -> None:
        folder = models_dir or MODELS_DIR
        try:
            eye = json.loads((folder / MANIFEST).read_text())["eye_model"]
            with _quiet_stderr():  # LiteRT announces its XNNPACK delegate on stderr, from C++
                self._model = Interpreter(model_path=str(_checked(folder / eye["file"], eye["sha256"])), num_threads=1)
                self._model.allocate_tensors()
            self._input = self._model.get_input_details()[0]["index"]
            self._contour = next(o["index"] for o in self._model.get_output_details() if int(np.prod(o["shape"])) == 71 * 3)
        except (OSError, KeyError, ValueError, RuntimeError, StopIteration) as exc:
            raise LivenessModelError(f"no usable eye model in {folder} ({exc}): the door cannot see a blink and stays shut") from exc

    def measure(self, image_rgb: np.ndarray, landmarks: np.ndarray) -> tuple[float, float]:
        """(left, right) eye openness of the face with these five landmarks."""
        left, right = landmarks[0].astype(np.float64), landmarks[1].astype(np.float64)
        angle = float(np.arctan2(right[1] - left[1], right[0] - left[0]))
        side = EYE_SIDE * float(np.linalg.norm(right - left))
        return self._openness(_eye_crop(image_rgb, left, angle, side)), self._openness(_eye_crop(image_rgb, right, angle, side)[:, ::-1])

    def _openness(self, crop: np.ndarray) -> float:
        self._model.set_tensor(self._input, (crop.astype(np.float32) / 255.0)[None])
        self._model.invoke()
        lids = self._model.get_tensor(self._contour).reshape(-1, 3)[:16, :2]
        width = float(np.linalg.norm(lids[CORNERS[0]] - lids[CORNERS[1]])) or 1.0
        return float(np.mean([np.linalg.norm(lids[u] - lids[d]) for u, d in LID_PAIRS])) / width


def _eye_crop(image: np.ndarray, centre: np.ndarray, angle: float, side: float) -> np.ndarray:
    """The EYE_CROP-pixel square of ``side`` image pixels about ``centre``, level with the eye line."""
    scale = EYE_CROP / max(side, 1.0)
    c, s = np.cos(-angle) * scale, np.sin(-angle) * scale
    matrix = np.array([[c, -s, 0.0], [s, c, 0.0]])
    matrix[:, 2] = EYE_CROP / 2 - matrix[:, :2] @ centre
    return cv2.warpAffine(image, matrix, (EYE_CROP, EYE_CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for the duration (C++ libraries bypass Python)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def blink_depth(openness: list[tuple[float, float]], reference_frames: int = 8) -> float:
    """The deepest blink in a track's frames: how far both eyes' openness (averaged over two
    frames, which halves the mesh's jitter and keeps a blink, several frames long) fell below
    their median over the frames just before, as a fraction of it. The smaller eye's fall counts:
    a blink closes both eyes, jitter seldom dips both at once. 0 for fewer than four frames."""
    eyes = np.asarray(openness, np.float64).reshape(-1, 2)
    if len(eyes) < 4:
        return 0.0
    eyes = (eyes[1:] + eyes[:-1]) / 2
    depth = 0.0
    for t in range(2, len(eyes)):
        before = np.median(eyes[max(0, t - reference_frames) : t], axis=0)
        fall = (before - eyes[t]) / np.maximum(before, 1e-6)
        depth = max(depth, float(fall.min()))
    return depth
