"""The live door view: each decision as it is written, as Server-Sent Events."""

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from gatekeeper.web.deps import Console, Ctx, Reader
from gatekeeper.web.security import principal_of

router = APIRouter(prefix="/live", include_in_schema=False)
LIVE_POLL_S = 0.5


@router.get("")
def live_page(request: Request, ctx: Ctx, principal: Reader) -> Response:
    return ctx.page(request, "live.html", principal)


@router.get("/events")
async def live_events(request: Request, ctx: Ctx, principal: Reader) -> StreamingResponse:
    """Polled from the audit log, which every door writes before it opens: what is shown here
    happened."""
    return StreamingResponse(_stream(request, ctx, principal.name, principal.role), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


async def _stream(request: Request, ctx: Console, name: str, role: object) -> AsyncIterator[str]:
    last = await run_in_threadpool(ctx.gk.audit.last_event_id)
    yield ": connected\n\n"
    while not await request.is_disconnected():
        # A stream outlives the request that opened it: after a sign-out, an expiry or a role
        # change nothing more goes to it.
        now = await run_in_threadpool(principal_of, request, ctx.accounts)
        if now is None or now.name != name or now.role != role:
            yield "event: signed-out\ndata: {}\n\n"
            return
        for row in await run_in_threadpool(ctx.gk.audit.after, last):
            last = row.event_id
            yield f"id: {row.event_id}\nevent: decision\ndata: {json.dumps(_live_json(row))}\n\n"
        await asyncio.sleep(LIVE_POLL_S)


def _live_json(row) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"event_id": row.event_id, "at": row.at.isoformat(), "door": row.door_id, "decision": row.decision, "person": row.person_id, "nearest": row.nearest_id,
            "best": row.best_similarity, "detail": row.detail, "snapshot": bool(row.snapshot)}
