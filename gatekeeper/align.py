"""Alignment: a similarity transform from five landmarks to a fixed canonical template.

The encoder only ever sees faces warped onto the same template, whether at training, enrollment
or at the door, so there is no train/serve skew in the geometry.
"""

from __future__ import annotations

import cv2
import numpy as np

CROP_SIZE = 112

# Canonical positions (x, y) of left eye, right eye, nose tip, left and right mouth corners in a
# 112x112 crop: the widely used ArcFace template, which frames the face tightly enough that hair
# and background barely enter the crop.
TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def similarity_transform(landmarks: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """The 2x3 rotation+scale+translation matrix mapping ``landmarks`` onto the template."""
    template = TEMPLATE_112 * (size / CROP_SIZE)
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(landmarks, dtype=np.float32), template, method=cv2.LMEDS
    )
    if matrix is None:
        raise ValueError("landmarks are degenerate; no similarity transform exists")
    return matrix


def align_face(image_rgb: np.ndarray, landmarks: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Warp the face with these landmarks into a ``size``x``size`` RGB crop."""
    matrix = similarity_transform(landmarks, size)
    return cv2.warpAffine(
        image_rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
