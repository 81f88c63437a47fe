"""Derive the 5-point alignment template that reproduces dlib's face chip from MTCNN landmarks.

dlib's network was trained on chips cut by dlib's own 5-point shape model (eye corners and nose
base, padding 0.25). The product has MTCNN's five points (eye centres, nose tip, mouth corners)
instead. Rather than guess how the two relate, cut dlib chips of real photos, run the product's
detector on the chips, and take the mean landmark position: warping MTCNN points onto that mean
reproduces dlib's framing on average. Needs the ``train`` extra (dlib); run with
``gatekeeper train template``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gatekeeper.vision.detect import TRAINING_MIN_SCORE, FaceDetector, most_central_face


@dataclass(frozen=True)
class TemplateEstimate:
    points: np.ndarray  # (5, 2) mean MTCNN landmarks in the chip
    spread: np.ndarray  # (5, 2) standard deviation, pixels
    photos: int  # photos whose chip MTCNN found a face in


def estimate_template(photos: list[Path], chip_size: int = 150, padding: float = 0.25) -> TemplateEstimate:
    import dlib
    import face_recognition_models as models

    finder = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    # MTCNN finds faces that fill their image badly: a flat grey border gives it the context
    # that its training crops had (the landmarks' spread drops from ~10 to ~1.7 px for the eyes).
    border = chip_size // 2
    detector = FaceDetector(min_face_px=40, max_side=chip_size + 2 * border)
    found = []
    for path in photos:
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        boxes = finder(image, 1)
        if len(boxes) != 1:
            continue
        chip = dlib.get_face_chip(image, shape(image, boxes[0]), size=chip_size, padding=padding)
        framed = cv2.copyMakeBorder(chip, border, border, border, border, cv2.BORDER_CONSTANT, value=(128, 128, 128))
        face = most_central_face([f for f in detector.detect(framed) if f.score >= TRAINING_MIN_SCORE], framed.shape)
        if face is not None:
            found.append(face.landmarks - border)
    if not found:
        raise ValueError("no chip had a detectable face")
    stack = np.stack(found)
    return TemplateEstimate(stack.mean(axis=0), stack.std(axis=0), len(found))
