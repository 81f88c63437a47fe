"""An enrollment photo read from disk or memory: its embedding and keepsake, or why it cannot be used."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gatekeeper.services.enrollment.keepsakes import encode_keepsake
from gatekeeper.vision.align import ENROLLMENT_KEEPSAKE, align_face
from gatekeeper.vision.images import ImageError, read_rgb
from gatekeeper.vision.pipeline import FaceError, FacePipeline


@dataclass
class PhotoResult:
    path: str
    reason: str | None = None  # None = accepted
    embedding: np.ndarray | None = None
    quality: dict[str, float] = field(default_factory=dict)
    sha256: str = ""
    face_crop: bytes = b""  # JPEG of the aligned face (keepsake layout): what `migrate` re-embeds
    note: str | None = None  # which face was taken, when the photo held several

    @property
    def ok(self) -> bool:
        return self.reason is None


def embed_photo(pipeline: FacePipeline, path: Path) -> PhotoResult:
    """One enrollment photo: its embedding, or the reason it cannot be used."""
    try:
        image = read_rgb(path)
    except ImageError as exc:
        return PhotoResult(str(path), reason=exc.reason)
    return embed_image(pipeline, image, str(path), _sha256(path))


def embed_image(pipeline: FacePipeline, image_rgb: np.ndarray, label: str, sha256: str = "") -> PhotoResult:
    """An enrollment picture already in memory (RGB uint8), named ``label`` in messages."""
    try:
        face = pipeline.enrollment_face(image_rgb, label)
    except FaceError as exc:
        return PhotoResult(label, reason=exc.reason)
    keepsake = encode_keepsake(align_face(image_rgb, face.detection.landmarks, ENROLLMENT_KEEPSAKE, face.border))
    digest = sha256 or hashlib.sha256(np.ascontiguousarray(image_rgb).tobytes()).hexdigest()
    return PhotoResult(label, embedding=face.embedding, quality=face.quality.as_dict(), sha256=digest, face_crop=keepsake, note=face.note)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
