"""Alignment: a similarity transform from five landmarks onto a named canonical template.

Each encoder declares the template its network was trained on (its manifest names it), and the
same warp is used at training, enrollment and the door, so there is no train/serve skew in the
geometry. Landmark order everywhere: left eye, right eye, nose tip, left and right mouth corners
(MTCNN's five points).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AlignmentTemplate:
    name: str
    size: int  # the aligned crop is size x size pixels
    points: np.ndarray  # (5, 2) float32 target positions of the five landmarks


# The widely used ArcFace template: frames the face tightly enough that hair and background barely
# enter the crop. DoorNet v1 and the quality gate use it.
ARCFACE_112 = AlignmentTemplate(
    "arcface-112",
    112,
    np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]], np.float32),
)

# dlib's 150x150 face chip (5-point shape model, padding 0.25) as MTCNN's landmarks see it: the mean
# MTCNN landmarks on the dlib chips of 1,387 LFW photos of people in no evaluation pair
# (`gatekeeper train template`; spread 1.7-2.0 px for the eyes). FaceResNet29 (DoorNet v2) uses it.
DLIB_CHIP_150 = AlignmentTemplate(
    "dlib-chip-150",
    150,
    np.array([[47.59, 45.74], [101.89, 45.79], [74.40, 77.34], [50.56, 104.96], [98.59, 105.13]], np.float32),
)

# What enrollment keeps of each photo (encrypted when a template key is set): the ArcFace layout
# scaled x2 on a wider 272-pixel canvas, large enough to re-cut every template above from it
# (dlib's chip reaches ~1.9 inter-eye distances below the eyes; this keeps ~2.05). Changing the
# model re-embeds these crops (`gatekeeper migrate`) instead of asking everyone for new photos.
ENROLLMENT_KEEPSAKE = AlignmentTemplate("keepsake-272", 272, ARCFACE_112.points * 2 + np.float32(24))

TEMPLATES = {t.name: t for t in (ARCFACE_112, DLIB_CHIP_150, ENROLLMENT_KEEPSAKE)}

# Kept for callers that only ever meant the ArcFace crop (quality measurements, v1 training code).
CROP_SIZE = ARCFACE_112.size
TEMPLATE_112 = ARCFACE_112.points


def similarity_transform(landmarks: np.ndarray, template: AlignmentTemplate = ARCFACE_112) -> np.ndarray:
    """The 2x3 rotation+scale+translation matrix mapping ``landmarks`` onto the template."""
    matrix, _ = cv2.estimateAffinePartial2D(np.asarray(landmarks, dtype=np.float32), template.points, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("landmarks are degenerate; no similarity transform exists")
    return matrix


def align_face(image_rgb: np.ndarray, landmarks: np.ndarray, template: AlignmentTemplate = ARCFACE_112, border: tuple[int, int, int] | None = None) -> np.ndarray:
    """Warp the face with these landmarks into the template's ``size`` x ``size`` RGB crop. Where
    the crop reaches past the image, the image is mirrored, or filled with ``border`` when given
    (a face-filling photo: mirroring would put a second chin and forehead where the encoder
    expects hair and neck)."""
    matrix = similarity_transform(landmarks, template)
    mode = cv2.BORDER_REFLECT if border is None else cv2.BORDER_CONSTANT
    return cv2.warpAffine(image_rgb, matrix, (template.size, template.size), flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=border or 0)
