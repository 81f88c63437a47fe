"""The access page (/access): doors with lockdown and release, schedules, groups with their grants
and members, a person's validity and suspension, and the door's own check with its reason. Admins
change the policy through forms; auditors read it. The same ``AccessAdmin`` calls as the API's and
the CLI's, audited with the console user."""

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from gatekeeper.errors import GatekeeperError
from gatekeeper.services.access import AccessAdmin, parse_bound, parse_instant
from gatekeeper.web.deps import Admin, Ctx, Reader, after_change
from gatekeeper.web.routers.access_api import person_out, policy_of

router = APIRouter(prefix="/access", include_in_schema=False)
Action = Literal["lockdown", "release"]


@router.get("")
def access_page(request: Request, ctx: Ctx, principal: Reader, person: str = "", check_person: str = "", check_door: str = "", check_at: str = "") -> Response:
    access = ctx.gk.access
    found, checked, error = None, None, request.query_params.get("error")
    try:
        if person:
            found = person_out(access.person(person))
        if check_person and check_door:
            at = parse_instant(check_at, access.door_timezone(check_door)) if check_at else datetime.now(timezone.utc)
            checked = access.check(check_person, check_door, at)
    except GatekeeperError as exc:
        error = str(exc)
    return ctx.page(request, "access.html", principal, policy=policy_of(access), person=found, checked=checked, check=(check_person, check_door, check_at),
                    message=request.query_params.get("message"), error=error, status_code=400 if error else 200)


@router.get("/doors/{door_id}/{action}")
def confirm_page(request: Request, door_id: str, action: Action, ctx: Ctx, principal: Admin) -> Response:
    """The second click: locking a door down refuses everyone but override groups."""
    return ctx.page(request, "access_confirm.html", principal, door_id=door_id, action=action)


@router.post("/doors/{door_id}/{action}")
def lockdown(door_id: str, action: Action, ctx: Ctx, principal: Admin) -> Response:
    return _change(ctx, principal, lambda a: a.lockdown(door_id, action == "lockdown"), f"door {door_id} {'locked down' if action == 'lockdown' else 'released'}")


@router.post("/doors")
def set_door(ctx: Ctx, principal: Admin, door_id: Annotated[str, Form()], name: Annotated[str, Form()] = "", tz: Annotated[str, Form()] = "") -> Response:
    return _change(ctx, principal, lambda a: a.set_door(door_id, name or None, tz or None), f"door {door_id} set")


@router.post("/schedules")
def set_schedule(ctx: Ctx, principal: Admin, name: Annotated[str, Form()], windows: Annotated[str, Form()], holidays: Annotated[str, Form()] = "") -> Response:
    return _change(ctx, principal, lambda a: a.set_schedule(name, _lines(windows), _lines(holidays)), f"schedule {name} set")


@router.post("/groups")
def set_group(ctx: Ctx, principal: Admin, name: Annotated[str, Form()], override: Annotated[bool, Form()] = False) -> Response:
    return _change(ctx, principal, lambda a: a.set_group(name, override), f"group {name} set")


@router.post("/grants")
def grant(ctx: Ctx, principal: Admin, group: Annotated[str, Form()], door_id: Annotated[str, Form()], schedule: Annotated[str, Form()] = "always") -> Response:
    return _change(ctx, principal, lambda a: a.grant(group, door_id, schedule), f"group {group} granted door {door_id} during {schedule}")


@router.post("/grants/revoke")
def revoke(ctx: Ctx, principal: Admin, group: Annotated[str, Form()], door_id: Annotated[str, Form()], schedule: Annotated[str, Form()]) -> Response:
    return _change(ctx, principal, lambda a: a.revoke(group, door_id, schedule), f"group {group} no longer granted door {door_id} during {schedule}")


@router.post("/members")
def members(ctx: Ctx, principal: Admin, group: Annotated[str, Form()], person_ids: Annotated[str, Form()], remove: Annotated[bool, Form()] = False) -> Response:
    ids = [p for p in person_ids.replace(",", " ").split() if p]
    change = (lambda a: a.remove_members(group, ids)) if remove else (lambda a: a.add_members(group, ids))
    return _change(ctx, principal, change, f"{len(ids)} {'removed from' if remove else 'added to'} group {group}")


@router.post("/people/{person_id}")
def person_access(person_id: str, ctx: Ctx, principal: Admin, valid_from: Annotated[str, Form()] = "", valid_until: Annotated[str, Form()] = "",
                  clear: Annotated[bool, Form()] = False, suspended: Annotated[bool, Form()] = False) -> Response:
    tz = ctx.gk.settings.timezone

    def change(a: AccessAdmin) -> None:
        start = parse_bound(valid_from, tz) if valid_from else None
        end = parse_bound(valid_until, tz) if valid_until else None
        if start or end or clear:
            a.set_validity(person_id, start, end, clear)
        if a.person(person_id).suspended != suspended:
            a.suspend(person_id, suspended)

    return _change(ctx, principal, change, f"{person_id}: access saved", person=person_id)


def _change(ctx: Ctx, principal: Admin, change: Callable[[AccessAdmin], object], done: str, **back: str) -> Response:
    """Run one policy change as the console user; back to the page saying what happened."""
    def run() -> str:
        change(ctx.acting(principal).access)
        return done

    return after_change("/access", run, **back)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(";", "\n").splitlines() if line.strip()]
