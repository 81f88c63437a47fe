"""`gatekeeper access ...` and `gatekeeper door ...`: the access policy from the command line.

Thin: every command is one call into ``services.access.AccessAdmin`` (which validates, audits
and bumps the generation a running door polls) and a Rich table or line.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from gatekeeper.app import App
from gatekeeper.config import Settings
from gatekeeper.core.access import ALWAYS, zone
from gatekeeper.cli.display import safe

access_app = typer.Typer(help="Who may open which door, when: doors, schedules, groups, validity, check.", no_args_is_help=True)
door_app = typer.Typer(help="Door modes: lock a door down (only override groups pass) and release it.", no_args_is_help=True)
doors_app = typer.Typer(help="Doors the policy knows, each with its timezone.", no_args_is_help=True)
schedule_app = typer.Typer(help="Weekly schedules in the door's local time, with holiday dates.", no_args_is_help=True)
group_app = typer.Typer(help="Access groups: door x schedule grants and members.", no_args_is_help=True)
members_app = typer.Typer(help="Who is in an access group.", no_args_is_help=True)
access_app.add_typer(doors_app, name="door")
access_app.add_typer(schedule_app, name="schedule")
access_app.add_typer(group_app, name="group")
access_app.add_typer(members_app, name="members")
console = Console(soft_wrap=True)  # an answer is one line, whatever the terminal: scripts grep it


def _app() -> App:
    return App(Settings(), create_database=False)


def _local(value: datetime | date | None, tz_name: str) -> str:
    if value is None:
        return "—"
    if not isinstance(value, datetime):
        return f"{value:%Y-%m-%d} (that day at each door)"
    return f"{value.astimezone(zone(tz_name)):%Y-%m-%d %H:%M %Z}"


# -- the overview and the check ---------------------------------------------------------------
@access_app.command("show")
def show() -> None:
    """The whole policy: doors, schedules, groups with their grants and members."""
    admin = _app().access
    doors = Table(title="doors")
    for col in ("door", "name", "timezone", "mode"):
        doors.add_column(col)
    for d in admin.doors():
        doors.add_row(safe(d.door_id), safe(d.name), safe(d.timezone), f"[red]lockdown[/red] since {_local(d.lockdown_since, d.timezone)}" if d.lockdown else "normal")
    schedules = Table(title="schedules")
    schedules.add_column("schedule")
    schedules.add_column("open")
    for name, text in admin.schedules():
        schedules.add_row(safe(name), safe(text))
    groups = Table(title="access groups")
    for col in ("group", "grants (door during schedule)", "members"):
        groups.add_column(col)
    for g in admin.groups():
        grants = ", ".join(f"{d} during {s}" for d, s in g.grants) or "none"
        groups.add_row(safe(g.name + (" (override)" if g.override else "")), safe(grants), safe(", ".join(g.members) or "none"))
    for table in (doors, schedules, groups):
        console.print(table)
    if not admin.groups():
        console.print("no access group defined: everyone enrolled may open every door, always (validity, suspension and lockdown still apply)")


@access_app.command("check")
def check(
    person_id: str,
    door_id: str,
    at: Annotated[Optional[str], typer.Option(help="ISO time; without an offset, the door's local time (default: now)")] = None,
) -> None:
    """Would this person be let through this door (now, or --at)? Explains the answer.
    Exit 0: permitted; 1: refused."""
    from gatekeeper.services.access import parse_instant

    admin = _app().access
    instant = parse_instant(at, admin.door_timezone(door_id)) if at else None
    answer = admin.check(person_id, door_id, instant)
    when = f"{answer.local_time:%a %Y-%m-%d %H:%M %Z}" if answer.local_time else "now"
    if answer.permitted:
        console.print(f"[green]permitted[/green]: {safe(person_id)} at {safe(door_id)}, {when}: {safe(answer.via)}")
        return
    console.print(f"[red]refused[/red]: {safe(person_id)} at {safe(door_id)}, {when}: {safe(answer.reason)}")
    raise typer.Exit(1)


@access_app.command("person")
def person(person_id: str) -> None:
    """A person's groups and validity."""
    gk = _app()
    view = gk.access.person(person_id)
    tz = gk.settings.timezone
    console.print(f"{safe(person_id)}: groups {safe(', '.join(view.groups) or 'none')}; valid from {_local(view.valid_from, tz)} until {_local(view.valid_until, tz)}{'; [red]suspended[/red]' if view.suspended else ''}")


# -- a person's validity ------------------------------------------------------------------------
@access_app.command("validity")
def validity(
    person_id: str,
    valid_from: Annotated[Optional[str], typer.Option("--from", help="ISO date (the first day, at each door's local date) or time (no offset: site timezone)")] = None,
    valid_until: Annotated[Optional[str], typer.Option("--until", help="ISO date (the last day, at each door's local date) or time the access ends")] = None,
    clear: Annotated[bool, typer.Option(help="remove the start and end first (no limits)")] = False,
) -> None:
    """Limit a person's access in time (contractors, interns, visitors)."""
    from gatekeeper.services.access import parse_bound

    gk = _app()
    tz = gk.settings.timezone
    start = parse_bound(valid_from, tz) if valid_from else None
    end = parse_bound(valid_until, tz) if valid_until else None
    if not (start or end or clear):
        raise typer.BadParameter("give --from, --until or --clear")
    gk.access.set_validity(person_id, start, end, clear)
    view = gk.access.person(person_id)
    console.print(f"{safe(person_id)}: valid from {_local(view.valid_from, tz)} until {_local(view.valid_until, tz)}")


@access_app.command("suspend")
def suspend(person_id: str) -> None:
    """Refuse a person at every door until `resume` (their enrollment is kept)."""
    _app().access.suspend(person_id, True)
    console.print(f"{safe(person_id)}: access suspended")


@access_app.command("resume")
def resume(person_id: str) -> None:
    _app().access.suspend(person_id, False)
    console.print(f"{safe(person_id)}: access resumed")


# -- doors, schedules, groups -------------------------------------------------------------------
@doors_app.command("set")
def door_set(
    door_id: str,
    name: Annotated[Optional[str], typer.Option(help="display name")] = None,
    timezone: Annotated[Optional[str], typer.Option(help="IANA timezone of the door (default: the site's)")] = None,
) -> None:
    """Add a door or change its name or timezone (its id is the daemon's door_id)."""
    _app().access.set_door(door_id, name, timezone)
    console.print(f"door {safe(door_id)} saved")


@doors_app.command("remove")
def door_remove(door_id: str) -> None:
    _app().access.remove_door(door_id)
    console.print(f"door {safe(door_id)} removed")


@schedule_app.command("set")
def schedule_set(
    name: str,
    window: Annotated[list[str], typer.Option(help="weekly window, e.g. 'mon-fri 08:00-18:00' or 'sat 22:00-06:00' (repeatable)")],
    holiday: Annotated[Optional[list[str]], typer.Option(help="YYYY-MM-DD on which the schedule stays closed (repeatable)")] = None,
) -> None:
    """Create or replace a schedule."""
    _app().access.set_schedule(name, window, holiday or [])
    console.print(f"schedule {safe(name)} saved")


@schedule_app.command("remove")
def schedule_remove(name: str) -> None:
    _app().access.remove_schedule(name)
    console.print(f"schedule {safe(name)} removed")


@group_app.command("set")
def group_set(name: str, override: Annotated[bool, typer.Option(help="members pass this group's doors in lockdown")] = False) -> None:
    """Create an access group (or change whether it overrides a lockdown)."""
    _app().access.set_group(name, override)
    console.print(f"group {safe(name)} saved")


@group_app.command("remove")
def group_remove(name: str) -> None:
    _app().access.remove_group(name)
    console.print(f"group {safe(name)} removed")


@access_app.command("grant")
def grant(group: str, door_id: str, schedule: Annotated[str, typer.Option(help="when the group may open it")] = ALWAYS) -> None:
    """Let a group open a door during a schedule."""
    _app().access.grant(group, door_id, schedule)
    console.print(f"group {safe(group)} may open {safe(door_id)} during {safe(schedule)}")


@access_app.command("revoke")
def revoke(group: str, door_id: str, schedule: Annotated[Optional[str], typer.Option(help="only this schedule's grant")] = None) -> None:
    removed = _app().access.revoke(group, door_id, schedule)
    console.print(f"{removed} grant(s) of {safe(door_id)} removed from group {safe(group)}")


@members_app.command("add")
def members_add(group: str, person_ids: list[str]) -> None:
    _app().access.add_members(group, person_ids)
    console.print(f"{len(person_ids)} added to group {safe(group)}")


@members_app.command("remove")
def members_remove(group: str, person_ids: list[str]) -> None:
    _app().access.remove_members(group, person_ids)
    console.print(f"{len(person_ids)} removed from group {safe(group)}")


# -- door modes ---------------------------------------------------------------------------------
@door_app.command("lockdown")
def lockdown(door_id: str) -> None:
    """Only override groups pass this door until `release`; a running door picks it up within
    its gallery refresh interval."""
    _app().access.lockdown(door_id, True)
    console.print(f"[red]door {safe(door_id)} locked down[/red]: only override groups pass")


@door_app.command("release")
def release(door_id: str) -> None:
    _app().access.lockdown(door_id, False)
    console.print(f"door {safe(door_id)} released: the access policy applies again")


@door_app.command("list")
def door_list() -> None:
    """Each door the policy knows or that reported, its mode and whether it is running."""
    from gatekeeper.services.doors import door_statuses

    gk = _app()
    for d in door_statuses(gk.sessions, gk.access):
        tz = d.timezone or gk.settings.timezone
        mode = f"[red]lockdown[/red] since {_local(d.lockdown_since, tz)}" if d.lockdown else "normal"
        health = d.health.state if d.health.ok else f"[red]{d.health.state}[/red]: {safe(d.health.detail)}"
        console.print(f"{safe(d.door_id)} ({safe(tz)}): {mode}; {health}")
