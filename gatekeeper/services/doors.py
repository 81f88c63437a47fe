"""Every door as the console and `gatekeeper door list` show it: what the access policy says of it
(timezone, lockdown) and what it last reported (heartbeat, camera, gallery), judged running,
stopped, without frames or with a camera fault."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.door_health import HEARTBEAT_S, DoorHealth, door_health
from gatekeeper.services.access import AccessAdmin
from gatekeeper.storage.access import aware
from gatekeeper.storage.models import DoorHeartbeat


@dataclass(frozen=True)
class DoorStatus:
    door_id: str
    timezone: str | None
    lockdown: bool
    lockdown_since: datetime | None
    health: DoorHealth
    heartbeat_at: datetime | None
    last_frame_at: datetime | None
    fps: float | None
    camera: str | None
    model_version: str | None
    gallery_generation: int | None
    people: int | None


def door_heartbeats(sessions: sessionmaker[Session]) -> list[DoorHeartbeat]:
    """What each door last reported, by door id."""
    with sessions() as s:
        return list(s.scalars(select(DoorHeartbeat).order_by(DoorHeartbeat.door_id)))


def door_statuses(sessions: sessionmaker[Session], access: AccessAdmin, now: datetime | None = None, every_s: float = HEARTBEAT_S) -> list[DoorStatus]:
    """Every door that reported a heartbeat or that the access policy knows, with both."""
    now = now or datetime.now(timezone.utc)
    policy = {d.door_id: d for d in access.doors()}
    beats = {h.door_id: h for h in door_heartbeats(sessions)}
    out = []
    for door_id in sorted(set(policy) | set(beats)):
        d, h = policy.get(door_id), beats.get(door_id)
        beat, frame = (aware(h.updated_at), aware(h.last_frame_at)) if h else (None, None)
        out.append(DoorStatus(
            door_id, d.timezone if d else None, bool(d and d.lockdown), d.lockdown_since if d else None, door_health(beat, frame, h.camera if h else None, now, every_s), beat, frame,
            h.fps if h else None, h.camera if h else None, h.model_version if h else None, h.gallery_generation if h else None, h.people if h else None,
        ))
    return out
