"""Uploaded photos: size-capped, type-checked and decoded by the same safe reader as files on
disk, in a private temporary file that never takes the client's name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import threading
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from fastapi import HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

from gatekeeper.vision.images import PHOTO_SUFFIXES, SUPPORTED, ImageError, read_rgb

MAX_UPLOAD_BYTES = 15 * 1024 * 1024  # a phone photo is 2-8 MB
MAX_FILES = 10
MAX_REQUEST_BYTES = MAX_FILES * MAX_UPLOAD_BYTES + 1024 * 1024  # the largest body the console reads
_CHUNK = 1 << 20


T = TypeVar("T")


class FaceWork:
    """CPU-bound face work (detection, embedding) for the console, off the event loop on worker
    threads, at most ``slots`` at a time: past that a request is answered 429 at once rather than
    queued, so a burst of uploads can neither freeze the console's other pages nor pile up."""

    def __init__(self, slots: int = 2) -> None:
        self._free = threading.BoundedSemaphore(slots)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if not self._free.acquire(blocking=False):
            raise HTTPException(429, "busy with other photos: try again in a few seconds", headers={"Retry-After": "5"})
        try:
            return await run_in_threadpool(fn, *args)
        finally:
            self._free.release()


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
            return await run_in_threadpool(read_rgb, name)  # decoding a large photo takes seconds: not on the event loop
        except ImageError as exc:
            raise HTTPException(422, f"not a usable photo: {exc.reason}") from exc
    finally:
        Path(name).unlink(missing_ok=True)
