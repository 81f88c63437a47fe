"""The gallery map page (/map): every enrolled person as a point, and the closest pairs (the
people most likely to be confused at the door) with their similarity against the threshold."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gatekeeper.web.deps import Ctx, Reader

router = APIRouter(prefix="/map", include_in_schema=False)


@router.get("")
def map_page(request: Request, ctx: Ctx, principal: Reader) -> Response:
    drawn = ctx.maps.current(ctx.gk)
    threshold = ctx.gk.thresholds.for_gallery(len(drawn.person_ids)).match if drawn is not None else None
    return ctx.page(request, "map.html", principal, drawn=drawn, threshold=threshold, failure=ctx.maps.failure)


@router.get("/points")
def map_points(ctx: Ctx, principal: Reader) -> Response:
    """[id, name, x, y] per person for the page's canvas; 202 while the map is being drawn."""
    drawn = ctx.maps.current(ctx.gk)
    if drawn is None:
        return JSONResponse({"drawing": True}, status_code=202)
    people = [[pid, name, round(float(x), 5), round(float(y), 5)] for pid, name, (x, y) in zip(drawn.person_ids, drawn.names, drawn.points)]
    return JSONResponse({"generation": drawn.generation, "people": people}, headers={"Cache-Control": "private, no-store"})
