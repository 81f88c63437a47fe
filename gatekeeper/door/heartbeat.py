"""Each running door's heartbeat in the database (last frame, fps, camera state, model, gallery
generation), written with the gallery check every few seconds: the console's doors page."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.match.gallery import GalleryIndex
from gatekeeper.storage.models import DoorHeartbeat

log = logging.getLogger(__name__)


class DoorPulse:
    def __init__(self, door_id: str, model_version: str, every_s: float = 5.0) -> None:
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
        if len(self._frames) < 2:
            return 0.0
        return (len(self._frames) - 1) / max(self._frames[-1] - self._frames[0], 1e-6)

    def report(self, sessions: sessionmaker[Session], gallery: GalleryIndex) -> None:
        """Best effort: a heartbeat that cannot be written is a log line, never a door fault."""
        if time.monotonic() - self._reported < self.every_s:
            return
        self._reported = time.monotonic()
        try:
            with sessions.begin() as session:
                row = session.get(DoorHeartbeat, self.door_id) or DoorHeartbeat(door_id=self.door_id)
                row.updated_at, row.last_frame_at, row.fps, row.camera = datetime.now(timezone.utc), self._last_frame, round(self.fps, 1), self.camera
                row.model_version, row.gallery_generation, row.people = self.model_version, gallery.generation, len(gallery)
                session.merge(row)
        except Exception as exc:  # noqa: BLE001 - the door goes on deciding; the console shows the gap
            log.warning("%s: heartbeat not written (%s)", self.door_id, exc)
