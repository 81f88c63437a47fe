"""The doors page: each door's heartbeat and policy state, and what liveness lets in."""

from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gatekeeper.app import App
from gatekeeper.services.people import door_heartbeats
from gatekeeper.web.defs.doors import DoorOut
from gatekeeper.web.deps import Ctx, Reader

router = APIRouter(include_in_schema=False)


@router.get("/doors")
def doors_page(request: Request, ctx: Ctx, principal: Reader) -> Response:
    from gatekeeper.match.thresholds import liveness_outlook

    return ctx.page(request, "doors.html", principal, doors=doors_of(ctx.gk), now=datetime.now(timezone.utc), liveness=liveness_outlook(ctx.gk.settings))


def doors_of(gk: App) -> list[DoorOut]:
    """Every door that reported a heartbeat or that the access policy knows, with both."""
    policy = {d.door_id: d for d in gk.access.doors()}
    beats = {h.door_id: h for h in door_heartbeats(gk.sessions)}
    out = []
    for door_id in sorted(set(policy) | set(beats)):
        d, h = policy.get(door_id), beats.get(door_id)
        out.append(DoorOut(
            door_id=door_id, timezone=d.timezone if d else None, lockdown=bool(d and d.lockdown),
            heartbeat_at=_iso(h.updated_at) if h else None, last_frame_at=_iso(h.last_frame_at) if h else None,
            fps=h.fps if h else None, camera=h.camera if h else None, model_version=h.model_version if h else None,
            gallery_generation=h.gallery_generation if h else None, people=h.people if h else None,
        ))
    return out


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat(timespec="seconds")
