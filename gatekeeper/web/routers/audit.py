"""The audit log's pages: a filtered page of rows, the chain check, one row's snapshot, exports."""

from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from gatekeeper.app import App
from gatekeeper.core.types import Decision
from gatekeeper.core.when import parse_when
from gatekeeper.errors import GatekeeperError, InputError
from gatekeeper.services.audit import AuditFilter, to_csv, to_json
from gatekeeper.web.deps import PAGE_SIZE, Ctx, Reader, pages

router = APIRouter(prefix="/audit", include_in_schema=False)
DECISIONS = tuple(d.value for d in Decision)  # the filter's choices: door decisions and admin actions


@router.get("")
def audit_page(request: Request, ctx: Ctx, principal: Reader, person: str = "", decision: str = "", door: str = "", since: str = "", until: str = "",
               page_no: Annotated[int, Query(alias="page", ge=1)] = 1) -> Response:
    rows, total = ctx.gk.audit.page(audit_filter(ctx.gk, person, decision, door, since, until), PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    return ctx.page(request, "audit.html", principal, rows=rows, total=total, page=page_no, pages=pages(total), person=person, decision=decision, door=door,
                    since=since, until=until, decisions=DECISIONS, problems=None)


@router.get("/verify")
def audit_verify(request: Request, ctx: Ctx, principal: Reader) -> Response:
    """The whole chain checked (seconds on a large log: on request, not on every page view)."""
    problems = ctx.gk.audit.verify()
    rows, total = ctx.gk.audit.page(AuditFilter(), PAGE_SIZE)
    return ctx.page(request, "audit.html", principal, rows=rows, total=total, page=1, pages=pages(total), person="", decision="", door="", since="", until="",
                    decisions=DECISIONS, problems=problems)


@router.get("/{event_id}/snapshot")
def audit_snapshot(event_id: int, ctx: Ctx, principal: Reader) -> Response:
    """One row's face snapshot (when the door saves them), opened with the template key."""
    try:
        jpeg = ctx.gk.audit.snapshot_jpeg(event_id, ctx.gk.codec)
    except GatekeeperError as exc:
        raise HTTPException(404, str(exc)) from exc
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/export")
def audit_export(ctx: Ctx, principal: Reader, person: str = "", decision: str = "", door: str = "", since: str = "", until: str = "", format: str = "csv") -> Response:
    return export(ctx.gk, audit_filter(ctx.gk, person, decision, door, since, until), format)


def audit_filter(gk: App, person: str, decision: str, door: str, since: str = "", until: str = "") -> AuditFilter:
    """The CLI's audit filters, read the same way (``core.when``: ages, dates, times, in the site's
    timezone; ``until`` a date includes that day)."""
    if decision and decision not in DECISIONS:
        raise HTTPException(422, f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    return AuditFilter(person_id=person or None, decision=decision or None, door_id=door or None,
                       since=_instant(gk, since, "since"), until=_instant(gk, until, "until"))


def _instant(gk: App, text: str, bound: Literal["since", "until"]) -> datetime | None:
    if not text:
        return None
    try:
        return parse_when(text, gk.settings.timezone, bound)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None


def export(gk: App, wanted: AuditFilter, format: str) -> Response:
    """The same neutralised CSV (formulas defused) and JSON as `gatekeeper audit --format`."""
    rows = gk.audit.query(wanted)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if format == "csv":
        return Response(to_csv(rows), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})
    if format == "json":
        return Response(to_json(rows), media_type="application/json", headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.json"'})
    raise HTTPException(422, f"format {format!r}: use csv or json")
