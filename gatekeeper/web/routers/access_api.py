"""The access policy in the REST API (/api/v1/access/...): doors, schedules, groups, grants,
members, a person's validity and suspension, the door's own check, and lockdown. Every change is
a call into ``services/access.AccessAdmin``, the policy's one writer, as the CLI's is, audited with
the console user or token who made it."""

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Query

from gatekeeper.core.access import AccessPolicyError
from gatekeeper.services.access import AccessAdmin, PersonAccessView, parse_bound, parse_instant
from gatekeeper.web.defs.access import (
    AccessCheckOut, AccessOut, ChangedOut, DoorIn, DoorPolicyOut, GrantIn, GrantOut, GroupIn, GroupOut, MembersIn, PersonAccessOut, ScheduleIn, ScheduleOut,
    SuspensionIn, ValidityIn,
)
from gatekeeper.web.deps import Admin, Ctx, Reader

router = APIRouter(prefix="/api/v1/access", tags=["access"])


def admin_of(ctx: Ctx, principal: Admin) -> AccessAdmin:
    return ctx.acting(principal).access


def policy_of(access: AccessAdmin) -> AccessOut:
    return AccessOut(
        doors=[DoorPolicyOut(door_id=d.door_id, name=d.name, timezone=d.timezone, lockdown=d.lockdown, lockdown_since=d.lockdown_since) for d in access.doors()],
        schedules=[ScheduleOut(name=n, description=t) for n, t in access.schedules()],
        groups=[GroupOut(name=g.name, override=g.override, grants=[GrantOut(door_id=d, schedule=s) for d, s in g.grants], members=g.members) for g in access.groups()],
    )


@router.get("")
def api_policy(ctx: Ctx, principal: Reader) -> AccessOut:
    return policy_of(ctx.gk.access)


@router.get("/check")
def api_check(ctx: Ctx, principal: Reader, person_id: str, door_id: str, at: Annotated[str | None, Query(max_length=40)] = None) -> AccessCheckOut:
    """Would this person be let through this door now (or ``at``: ISO time, the door's local time without an offset)?"""
    access = ctx.gk.access
    instant = parse_instant(at, access.door_timezone(door_id)) if at else datetime.now(timezone.utc)
    answer = access.check(person_id, door_id, instant)
    return AccessCheckOut(person_id=person_id, door_id=door_id, at=instant, permitted=answer.permitted, reason=answer.reason, via=answer.via, local_time=answer.local_time)


@router.put("/doors/{door_id}")
def api_set_door(door_id: str, body: DoorIn, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).set_door(door_id, body.name, body.timezone)
    return ChangedOut(done=f"door {door_id} set")


@router.delete("/doors/{door_id}")
def api_remove_door(door_id: str, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).remove_door(door_id)
    return ChangedOut(done=f"door {door_id} removed, with its grants")


@router.post("/doors/{door_id}/lockdown")
def api_lockdown(door_id: str, ctx: Ctx, principal: Admin) -> ChangedOut:
    """Only override groups pass until released; running doors pick it up within gallery_refresh_s."""
    admin_of(ctx, principal).lockdown(door_id, True)
    return ChangedOut(done=f"door {door_id} locked down")


@router.post("/doors/{door_id}/release")
def api_release(door_id: str, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).lockdown(door_id, False)
    return ChangedOut(done=f"door {door_id} released")


@router.put("/schedules/{name}")
def api_set_schedule(name: str, body: ScheduleIn, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).set_schedule(name, body.windows, body.holidays)
    return ChangedOut(done=f"schedule {name} set")


@router.delete("/schedules/{name}")
def api_remove_schedule(name: str, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).remove_schedule(name)
    return ChangedOut(done=f"schedule {name} removed")


@router.put("/groups/{name}")
def api_set_group(name: str, body: GroupIn, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).set_group(name, body.override)
    return ChangedOut(done=f"group {name} set")


@router.delete("/groups/{name}")
def api_remove_group(name: str, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).remove_group(name)
    return ChangedOut(done=f"group {name} removed")


@router.post("/grants")
def api_grant(body: GrantIn, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).grant(body.group, body.door_id, body.schedule)
    return ChangedOut(done=f"group {body.group} granted door {body.door_id} during {body.schedule}")


@router.delete("/grants")
def api_revoke(ctx: Ctx, principal: Admin, group: str, door_id: str, schedule: str | None = None) -> ChangedOut:
    removed = admin_of(ctx, principal).revoke(group, door_id, schedule)
    return ChangedOut(done=f"{removed} grant(s) of door {door_id} removed from group {group}")


@router.post("/groups/{name}/members")
def api_add_members(name: str, body: MembersIn, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).add_members(name, body.person_ids)
    return ChangedOut(done=f"{len(body.person_ids)} added to group {name}")


@router.delete("/groups/{name}/members/{person_id}")
def api_remove_member(name: str, person_id: str, ctx: Ctx, principal: Admin) -> ChangedOut:
    admin_of(ctx, principal).remove_members(name, [person_id])
    return ChangedOut(done=f"{person_id} removed from group {name}")


@router.get("/people/{person_id}")
def api_person_access(person_id: str, ctx: Ctx, principal: Reader) -> PersonAccessOut:
    return person_out(ctx.gk.access.person(person_id))


@router.put("/people/{person_id}/validity")
def api_validity(person_id: str, body: ValidityIn, ctx: Ctx, principal: Admin) -> PersonAccessOut:
    access = admin_of(ctx, principal)
    tz = ctx.gk.settings.timezone
    start = parse_bound(body.valid_from, tz) if body.valid_from else None
    end = parse_bound(body.valid_until, tz) if body.valid_until else None
    if not (start or end or body.clear):
        raise AccessPolicyError("give valid_from, valid_until or clear")
    access.set_validity(person_id, start, end, body.clear)
    return person_out(access.person(person_id))


@router.put("/people/{person_id}/suspension")
def api_suspension(person_id: str, body: SuspensionIn, ctx: Ctx, principal: Admin) -> PersonAccessOut:
    access = admin_of(ctx, principal)
    access.suspend(person_id, body.suspended)
    return person_out(access.person(person_id))


def person_out(view: PersonAccessView) -> PersonAccessOut:
    return PersonAccessOut(person_id=view.person_id, groups=view.groups, valid_from=view.valid_from, valid_until=view.valid_until, suspended=view.suspended, badge=view.badge)
