"""The doors page: each door's health (running, stopped, no frames, camera fault), heartbeat and
policy state, and what liveness lets in."""

from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gatekeeper.app import App
from gatekeeper.services.doors import door_statuses
from gatekeeper.web.defs.doors import DoorOut
from gatekeeper.web.deps import Ctx, Reader

router = APIRouter(include_in_schema=False)


@router.get("/doors")
def doors_page(request: Request, ctx: Ctx, principal: Reader) -> Response:
    from gatekeeper.match.thresholds import liveness_outlook

    return ctx.page(request, "doors.html", principal, doors=doors_of(ctx.gk), now=datetime.now(timezone.utc), liveness=liveness_outlook(ctx.gk.settings))


def doors_of(gk: App) -> list[DoorOut]:
    return [
        DoorOut(
            door_id=d.door_id, timezone=d.timezone, lockdown=d.lockdown, state=d.health.state, state_detail=d.health.detail,
            heartbeat_at=_iso(d.heartbeat_at), last_frame_at=_iso(d.last_frame_at), fps=d.fps, camera=d.camera,
            model_version=d.model_version, gallery_generation=d.gallery_generation, people=d.people,
        )
        for d in door_statuses(gk.sessions, gk.access)
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
