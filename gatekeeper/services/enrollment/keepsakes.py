"""Aligned face crops kept with each enrollment photo (JPEG), so a new model can re-embed them."""

from __future__ import annotations

import cv2
import numpy as np

from gatekeeper.vision.align import ENROLLMENT_KEEPSAKE


def encode_keepsake(crop_rgb: np.ndarray) -> bytes:
    # JPEG q95: ~20 KB a photo, and re-embedding it moves an embedding by cosine < 1e-3.
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError("could not encode the aligned face")
    return jpeg.tobytes()


def decode_keepsake(jpeg: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[:2] != (ENROLLMENT_KEEPSAKE.size, ENROLLMENT_KEEPSAKE.size):
        raise ValueError("stored face crop is not a readable keepsake image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
