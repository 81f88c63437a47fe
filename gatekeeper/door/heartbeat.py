"""Each running door's heartbeat in the database (last frame, fps, camera state, model, gallery
generation), taken with the gallery check every few seconds and written off the frame loop: the
console's doors page."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.door_health import HEARTBEAT_S
from gatekeeper.match.gallery import GalleryIndex
from gatekeeper.storage.models import DoorHeartbeat

log = logging.getLogger(__name__)


class DoorPulse:
    def __init__(self, door_id: str, model_version: str, every_s: float = HEARTBEAT_S) -> None:
        self.door_id = door_id
        self.every_s = every_s  # at most one write per interval, whatever the gallery check's pace
        self._reported = float("-inf")
        self.model_version = model_version
        self.camera = "starting"
        self._frames: list[float] = []
        self._last_frame: datetime | None = None

    def frame(self) -> None:
        now = time.monotonic()
        self._frames = [t for t in self._frames if now - t < 10.0] + [now]
        self._last_frame = datetime.now(timezone.utc)
        self.camera = "ok"

    @property
    def fps(self) -> float:
        """Over the last 10 s: a camera that stopped sending shows 0, not its old rate."""
        now = time.monotonic()
        recent = [t for t in self._frames if now - t < 10.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def report(self, sessions: sessionmaker[Session], gallery: GalleryIndex, submit: Callable[[Callable[[], None]], None]) -> None:
        """At most once per interval, the row as of now, written by ``submit``'s background
        thread (the frame loop never waits on it). Best effort: a heartbeat that cannot be written
        is a log line, never a door fault."""
        if time.monotonic() - self._reported < self.every_s:
            return
        self._reported = time.monotonic()
        beat = DoorHeartbeat(door_id=self.door_id, updated_at=datetime.now(timezone.utc), last_frame_at=self._last_frame, fps=round(self.fps, 1), camera=self.camera,
                             model_version=self.model_version, gallery_generation=gallery.generation, people=len(gallery))
        submit(lambda: self._write(sessions, beat))

    def _write(self, sessions: sessionmaker[Session], beat: DoorHeartbeat) -> None:
        try:
            with sessions.begin() as session:
                session.merge(beat)
        except Exception as exc:  # noqa: BLE001 - the door goes on deciding; the console shows the gap
            log.warning("%s: heartbeat not written (%s)", self.door_id, exc)
