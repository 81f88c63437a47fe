"""The landing page: today at a glance (decisions per hour and door, counted by kind), the doors'
health and the latest refusals with their snapshots."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gatekeeper.services.doors import door_statuses
from gatekeeper.services.overview import KINDS, today
from gatekeeper.web.deps import Ctx, Reader

router = APIRouter(include_in_schema=False)


@router.get("/")
def overview_page(request: Request, ctx: Ctx, principal: Reader) -> Response:
    day = today(ctx.gk.sessions, ctx.gk.settings.timezone)
    return ctx.page(request, "overview.html", principal, day=day, kinds=KINDS, doors=door_statuses(ctx.gk.sessions, ctx.gk.access))
