"""Uploaded photos: size-capped, type-checked and decoded by the same safe reader as files on
disk, in a private temporary file that never takes the client's name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from fastapi import HTTPException, UploadFile

from gatekeeper.vision.images import PHOTO_SUFFIXES, SUPPORTED, ImageError, read_rgb

MAX_UPLOAD_BYTES = 15 * 1024 * 1024  # a phone photo is 2-8 MB
MAX_FILES = 10
MAX_REQUEST_BYTES = MAX_FILES * MAX_UPLOAD_BYTES + 1024 * 1024  # the largest body the console reads
_CHUNK = 1 << 20


async def read_upload(upload: UploadFile) -> np.ndarray:
    """The upload as RGB uint8, or a 4xx naming what is wrong with it (413 too large, 415 not an
    image, 422 unreadable); the temporary copy is gone either way."""
    suffix = Path(upload.filename or "").suffix.lower()
    if upload.content_type and not upload.content_type.startswith("image/") and upload.content_type != "application/octet-stream":
        raise HTTPException(415, f"{upload.content_type} is not an image ({SUPPORTED})")
    fd, name = tempfile.mkstemp(prefix="gk-upload-", suffix=suffix if suffix in PHOTO_SUFFIXES else ".img")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise HTTPException(413, f"photo larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
                out.write(chunk)
        try:
            return read_rgb(name)
        except ImageError as exc:
            raise HTTPException(422, f"not a usable photo: {exc.reason}") from exc
    finally:
        Path(name).unlink(missing_ok=True)
