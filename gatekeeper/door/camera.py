"""Frame sources and the reader thread that feeds the daemon the newest frame.

Sources: a camera index (``0``), an RTSP/HTTP URL, a video file, or a folder of images (replay).
The reader runs in its own thread and keeps only the latest frame, so a slow frame never builds a
backlog: the door decides on what the camera sees now. Live sources that fail are reopened with
exponential backoff; the reader never gives up on them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from gatekeeper.errors import EnvironmentFault
from gatekeeper.core.redaction import redact_source
from gatekeeper.vision.images import PHOTO_SUFFIXES, ImageError, read_rgb

log = logging.getLogger(__name__)


class CameraError(EnvironmentFault):
    pass


class FrameSource(Protocol):
    name: str
    finite: bool  # a file or folder ends; a camera or stream does not

    def open(self) -> None: ...
    def read(self) -> np.ndarray | None: ...  # RGB frame, or None when the source ended or dropped
    def close(self) -> None: ...


class OpenCVSource:
    def __init__(self, spec: str | int, finite: bool) -> None:
        self.spec = spec
        # The name goes into logs and the audit log: a stream URL's credentials stay out of it.
        self.name = redact_source(str(spec))
        self.finite = finite
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        cap = cv2.VideoCapture(self.spec)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open video source {self.name}")
        self._cap = cap

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        ok, frame = self._cap.read()
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if ok and frame is not None else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FolderSource:
    """Replays the images of a folder in name order; unreadable files are skipped and logged."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = str(folder)
        self.finite = True
        self._files: list[Path] = []

    def open(self) -> None:
        if not self.folder.is_dir():
            raise CameraError(f"{self.folder}: folder not found")
        files = sorted(p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))
        self._files = [p for p in files if p.suffix.lower() in PHOTO_SUFFIXES]
        for other in sorted(set(files) - set(self._files)):
            log.warning("replay: skipping %s: not a photo (%s)", other, ", ".join(PHOTO_SUFFIXES))

    def read(self) -> np.ndarray | None:
        while self._files:
            path = self._files.pop(0)
            try:
                return read_rgb(path)
            except ImageError as exc:
                log.warning("replay: skipping %s", exc)
        return None

    def close(self) -> None:
        self._files = []


def open_source(spec: str) -> FrameSource:
    """A camera index or stream URL (live: reconnected for ever), a device node (live), or a video
    file or folder of images (replay: ends at its last frame). A path that does not exist is a
    typo, not a camera that may come back: it is refused at once."""
    if spec.isdigit():
        return OpenCVSource(int(spec), finite=False)
    if "://" in spec:
        return OpenCVSource(spec, finite=False)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path)
    if not path.exists():
        raise CameraError(f"source {path}: no such file or folder (a camera is a number like 0, a stream an rtsp:// or http:// URL)")
    if path.is_char_device():  # /dev/video0: a camera
        return OpenCVSource(str(path), finite=False)
    return OpenCVSource(str(path), finite=True)


class FrameReader(threading.Thread):
    """Reads frames into a one-slot mailbox. With ``drop_stale`` (live), newer frames replace
    unprocessed ones; without it (replay), the reader waits so every frame is processed."""

    def __init__(self, source: FrameSource, drop_stale: bool, on_event: Callable[[str, str], None], backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0) -> None:
        super().__init__(name=f"frames:{source.name}", daemon=True)
        self.source = source
        self.drop_stale = drop_stale
        self.on_event = on_event  # (kind, message): the daemon logs and audits camera faults
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._slot: np.ndarray | None = None
        self._cond = threading.Condition()
        self._halt = threading.Event()
        self.finished = False
        self.frames_read = 0
        self.frames_dropped = 0

    def stop(self) -> None:
        self._halt.set()
        with self._cond:
            self._cond.notify_all()

    def next_frame(self, timeout: float) -> np.ndarray | None:
        with self._cond:
            if self._slot is None and not self.finished:
                self._cond.wait(timeout)
            frame, self._slot = self._slot, None
            self._cond.notify_all()
            return frame

    def run(self) -> None:
        delay = self.backoff_initial_s
        while not self._halt.is_set():
            try:
                self.source.open()
            except Exception as exc:
                if self.source.finite:  # a file that cannot be read will not get better: stop
                    self.on_event("camera-error", f"{exc}; a replayed file is not retried")
                    break
                self.on_event("camera-error", f"{exc}; retrying in {delay:.1f}s")
                if self._halt.wait(delay):
                    break
                delay = min(delay * 2, self.backoff_max_s)
                continue
            delay = self.backoff_initial_s
            self._pump()
            self.source.close()
            if self.source.finite:
                break
            if not self._halt.is_set():
                self.on_event("camera-lost", f"{self.source.name} stopped delivering frames; reconnecting")
        with self._cond:
            self.finished = True
            self._cond.notify_all()

    def _pump(self) -> None:
        while not self._halt.is_set():
            try:
                frame = self.source.read()
            except Exception as exc:
                self.on_event("camera-error", f"read failed: {exc}")
                return
            if frame is None:
                return
            self.frames_read += 1
            self._deliver(frame)

    def _deliver(self, frame: np.ndarray) -> None:
        with self._cond:
            if not self.drop_stale:
                while self._slot is not None and not self._halt.is_set():
                    self._cond.wait(0.1)
            elif self._slot is not None:
                self.frames_dropped += 1
            self._slot = frame
            self._cond.notify_all()

