"""Is a door running? Judged from what it last reported: a door writes a heartbeat every
``HEARTBEAT_S`` seconds (also while its camera sends nothing), so one silent for three intervals
has stopped, and one whose last frame is that old has a camera that delivers no frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

HEARTBEAT_S = 5.0
STALE_AFTER = 3  # heartbeat intervals

State = Literal["running", "stopped", "no-frames", "camera-fault", "never-reported"]


@dataclass(frozen=True)
class DoorHealth:
    state: State
    detail: str

    @property
    def ok(self) -> bool:
        return self.state == "running"


def door_health(heartbeat_at: datetime | None, last_frame_at: datetime | None, camera: str | None, now: datetime, every_s: float = HEARTBEAT_S) -> DoorHealth:
    """Times are aware UTC."""
    stale = STALE_AFTER * every_s
    if heartbeat_at is None:
        return DoorHealth("never-reported", "no heartbeat yet (a running door writes one every few seconds)")
    if (now - heartbeat_at).total_seconds() > stale:
        return DoorHealth("stopped", f"no heartbeat since {heartbeat_at:%Y-%m-%d %H:%M:%S} UTC")
    if camera not in (None, "ok", "starting"):
        return DoorHealth("camera-fault", f"camera: {camera}")
    if last_frame_at is None or (now - last_frame_at).total_seconds() > stale:
        since = f"since {last_frame_at:%Y-%m-%d %H:%M:%S} UTC" if last_frame_at else "yet"
        return DoorHealth("no-frames", f"running, but the camera has delivered no frame {since}")
    return DoorHealth("running", "running")
