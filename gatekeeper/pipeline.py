"""One code path from pixels to embeddings: detect -> align -> quality -> embed.

Enrollment, the door daemon, `verify` and evaluation all call this, so a face is treated the same
way wherever it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gatekeeper.align import ARCFACE_112, align_face
from gatekeeper.config import Settings
from gatekeeper.detect import PHOTO_PROFILE, DetectorProfile, FaceDetection, FaceDetector
from gatekeeper.encoder import FaceEncoder
from gatekeeper.quality import FaceQuality, QualityGate, assess
from gatekeeper.errors import InputError


class FaceError(InputError):
    """A photo holds no usable face: names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class AnalysedFace:
    detection: FaceDetection
    crop: np.ndarray  # aligned on the encoder's template (e.g. 150x150 for DoorNet v2)
    quality: FaceQuality
    problems: list[str]
    embedding: np.ndarray | None = None  # set only for faces that passed the quality gate

    @property
    def usable(self) -> bool:
        return not self.problems


class FacePipeline:
    def __init__(self, settings: Settings, encoder: FaceEncoder | None = None) -> None:
        self.settings = settings
        self.encoder = encoder or FaceEncoder(settings.model, threads=settings.threads)
        # Door frames need speed and hold faces of a known size; photos may be anything.
        self.door_detector = FaceDetector.from_profile(door_profile(settings))
        self.photo_detector = FaceDetector.from_profile(PHOTO_PROFILE)
        self.door_gate = QualityGate(settings)
        self.enroll_gate = QualityGate(settings, settings.min_enroll_inter_eye_px)

    def analyse(self, image_rgb: np.ndarray) -> list[AnalysedFace]:
        """Every face in a door-camera frame, largest first; usable ones carry an embedding."""
        return self._analyse(image_rgb, self.door_detector, self.door_gate, flip=self.settings.door_flip_average)

    def analyse_photo(self, image_rgb: np.ndarray) -> list[AnalysedFace]:
        """Every face in a photo (any size, thorough detection), judged by the door's gate and
        embedded as the door embeds a frame."""
        return self._analyse(image_rgb, self.photo_detector, self.door_gate, flip=self.settings.door_flip_average)

    def _analyse(self, image_rgb: np.ndarray, detector: FaceDetector, gate: QualityGate, flip: bool | None = None) -> list[AnalysedFace]:
        # Low-confidence detections are mostly not faces (patterns, posters): ignore them outright
        # rather than report a "low quality face" for every one.
        confident = [f for f in detector.detect(image_rgb) if f.score >= self.settings.min_detection_score]
        faces = sorted(confident, key=lambda f: f.width, reverse=True)
        analysed = []
        for det in faces:
            # Quality is measured on the fixed ArcFace crop, so its thresholds mean the same thing
            # whatever encoder runs; the encoder gets the framing it was trained on.
            quality = assess(det, align_face(image_rgb, det.landmarks, ARCFACE_112))
            crop = align_face(image_rgb, det.landmarks, self.encoder.template)
            analysed.append(AnalysedFace(det, crop, quality, gate.problems(quality)))
        usable = [a for a in analysed if a.usable]
        if usable:
            for face, emb in zip(usable, self.encoder.embed(np.stack([a.crop for a in usable]), flip=flip)):
                face.embedding = emb
        return analysed

    def enrollment_face(self, image_rgb: np.ndarray, path: Path | str) -> AnalysedFace:
        """The one clear face of an enrollment photo, or a ``FaceError`` saying why not."""
        faces = self._analyse(image_rgb, self.photo_detector, self.enroll_gate)
        if not faces:
            raise FaceError(path, "no face found")
        main = faces[0]
        if len(faces) > 1 and faces[1].detection.width >= self.settings.second_face_ratio * main.detection.width:
            raise FaceError(path, f"{len(faces)} faces of similar size; enrollment photos must show one person")
        if main.problems:
            raise FaceError(path, "; ".join(main.problems))
        return main


def door_profile(settings: Settings) -> DetectorProfile:
    return DetectorProfile(settings.detect_min_face_px, settings.detect_max_side, settings.detect_pyramid_factor, settings.detect_thresholds)
