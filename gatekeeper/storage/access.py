"""The access policy's rows as one immutable snapshot for the door, and its generation counter.

Every access change bumps ``access_generation`` in the same transaction; a running daemon polls
it with the gallery's and reloads the snapshot, so a lockdown reaches the door within the refresh
interval without reloading the face index.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from gatekeeper.core.access import AccessGroup, AccessPolicy, DoorRecord, PersonAccess, Schedule, Window
from gatekeeper.storage import models

ACCESS_GENERATION_KEY = "access_generation"


def access_generation(session: Session) -> int:
    row = session.get(models.Meta, ACCESS_GENERATION_KEY)
    return int(row.value) if row else 0


def bump_access_generation(session: Session) -> int:
    """FIRST in every transaction that changes the policy: being a write, it takes the database's
    write lock before anything is read, so two admins' changes queue instead of interleaving."""
    updated = session.execute(update(models.Meta).where(models.Meta.key == ACCESS_GENERATION_KEY).values(value=models.Meta.value), execution_options={"synchronize_session": False})
    row = session.get(models.Meta, ACCESS_GENERATION_KEY)
    if updated.rowcount == 0 or row is None:
        row = models.Meta(key=ACCESS_GENERATION_KEY, value="0")
        session.add(row)
    row.value = str(int(row.value) + 1)
    session.flush()
    return int(row.value)


def load_access_policy(session: Session, default_timezone: str) -> AccessPolicy:
    """Everything the door needs to decide, read in one transaction."""
    doors = {d.door_id: DoorRecord(d.door_id, d.timezone, d.lockdown) for d in session.scalars(select(models.Door))}
    schedules = {s.name: schedule_of(s) for s in session.scalars(select(models.Schedule).options(selectinload(models.Schedule.windows), selectinload(models.Schedule.holidays)))}
    grants: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for g in session.scalars(select(models.GroupDoor)):
        grants[g.group].append((g.door_id, g.schedule))
    groups = {g.name: AccessGroup(g.name, tuple(sorted(grants[g.name])), g.override) for g in session.scalars(select(models.AccessGroup))}
    memberships: dict[str, set[str]] = defaultdict(set)
    for m in session.scalars(select(models.GroupMember)):
        memberships[m.person_id].add(m.group)
    p = models.Person
    restricted = session.execute(
        select(p.person_id, p.valid_from, p.valid_until, p.valid_from_day, p.valid_until_day, p.suspended).where(
            or_(p.valid_from.is_not(None), p.valid_until.is_not(None), p.valid_from_day.is_not(None), p.valid_until_day.is_not(None), p.suspended.is_(True))
        )
    ).all()
    people = {pid: PersonAccess(frozenset(g)) for pid, g in memberships.items()}
    for pid, start, end, start_day, end_day, suspended in restricted:
        people[pid] = PersonAccess(frozenset(memberships.get(pid, ())), start_day or aware(start), end_day or aware(end), bool(suspended))
    badges = {number: person for number, person in session.execute(select(models.Badge.number, models.Badge.person_id))}
    return AccessPolicy(doors, schedules, groups, people, default_timezone, access_generation(session), badges)


def schedule_of(row: models.Schedule) -> Schedule:
    return Schedule(row.name, tuple(Window(w.weekday, w.start_minute, w.end_minute) for w in row.windows), frozenset(h.day for h in row.holidays))


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value
