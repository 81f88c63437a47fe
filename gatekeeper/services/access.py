"""Access administration: doors, schedules, groups, memberships, validity, lockdown, and the
check that explains an answer. The CLI, the public API and the web console call this, nothing
else writes the policy.

Every change is one transaction that bumps the access generation first (the write lock, and the
signal a running door polls), makes the change, and appends an admin row to the audit chain: the
change and its record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.access import ALWAYS, AccessAnswer, AccessPolicy, AccessPolicyError, Bound, parse_windows, zone
from gatekeeper.core.types import Decision
from gatekeeper.core.identifiers import BADGE_NUMBER, PERSON_ID, InvalidIdentifier, clean_text
from gatekeeper.core.when import AGE_UNITS, parse_when
from gatekeeper.errors import InputError
from gatekeeper.services.audit import AuditLog
from gatekeeper.storage import models
from gatekeeper.storage.access import aware, bump_access_generation, load_access_policy, schedule_of


@dataclass(frozen=True)
class DoorView:
    door_id: str
    name: str
    timezone: str
    lockdown: bool
    lockdown_since: datetime | None


@dataclass(frozen=True)
class GroupView:
    name: str
    override: bool
    grants: list[tuple[str, str]]  # (door, schedule)
    members: list[str]


@dataclass(frozen=True)
class PersonAccessView:
    person_id: str
    groups: list[str]
    valid_from: Bound | None  # an instant, or the first day (at each door's local date)
    valid_until: Bound | None  # an instant, or the last day
    suspended: bool
    badge: str | None = None  # the badge number a card + face door knows them by


def check_name(kind: str, name: str) -> str:
    """Door, schedule and group names follow the person-id rule: plain, printable, short."""
    if not PERSON_ID.fullmatch(name):
        raise AccessPolicyError(f"{kind} name {ascii(name[:40])} is not allowed: use 1-64 characters of letters, digits and . _ @ - (starting with a letter or digit)")
    return name


def parse_bound(text: str, tz_name: str) -> Bound:
    """A validity bound: a bare ISO date is a calendar day, judged at each door's local date
    (``--until 2026-12-11``: the 11th, wherever the door is, is the last day in); a time without
    an offset is wall-clock time in ``tz_name``."""
    text = text.strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise AccessPolicyError(f"date {text!r} is not an ISO date (e.g. 2026-12-07)") from exc
    return parse_instant(text, tz_name)


def parse_instant(text: str, tz_name: str, end_of_day: bool = False) -> datetime:
    """An ISO date or time, read as every other time in gatekeeper is (``core.when``): without an
    offset it is wall-clock time in ``tz_name``; a bare date is the start of that day, or with
    ``end_of_day`` the start of the next (``--until 2026-12-11``: the 11th is the last day)."""
    if text.strip()[-1:] in AGE_UNITS:  # an age is an audit filter's, not a validity bound's
        raise AccessPolicyError(f"time {text!r} is not an ISO date or time (e.g. 2026-12-07 or 2026-12-07T09:30 or 2026-12-07T09:30+01:00)")
    try:
        return parse_when(text, tz_name, "until" if end_of_day else "since")
    except InputError as exc:
        raise AccessPolicyError(f"time {text!r} is not an ISO date or time (e.g. 2026-12-07 or 2026-12-07T09:30 or 2026-12-07T09:30+01:00)") from exc


class AccessAdmin:
    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog, actor: str, site_timezone: str = "UTC") -> None:
        self.sessions = sessions
        self.audit = audit
        self.actor = actor
        self.site_timezone = site_timezone

    # -- reading ----------------------------------------------------------------------------
    def policy(self) -> AccessPolicy:
        with self.sessions() as session:
            return load_access_policy(session, self.site_timezone)

    def check(self, person_id: str, door_id: str, at: datetime | None = None) -> AccessAnswer:
        """The door's own answer for this person here at ``at`` (default now), with its reason."""
        with self.sessions() as session:
            if session.get(models.Person, person_id) is None:
                raise AccessPolicyError(f"no enrolled person has id {person_id!r}")
        return self.policy().check(person_id, door_id, at or datetime.now(timezone.utc))

    def doors(self) -> list[DoorView]:
        with self.sessions() as session:
            return [DoorView(d.door_id, d.name, d.timezone, d.lockdown, aware(d.lockdown_since)) for d in session.scalars(select(models.Door).order_by(models.Door.door_id))]

    def door_timezone(self, door_id: str) -> str:
        with self.sessions() as session:
            door = session.get(models.Door, door_id)
            return door.timezone if door else self.site_timezone

    def schedules(self) -> list[tuple[str, str]]:
        """(name, description) of every schedule."""
        with self.sessions() as session:
            return [(s.name, schedule_of(s).describe()) for s in session.scalars(select(models.Schedule).order_by(models.Schedule.name))]

    def groups(self) -> list[GroupView]:
        with self.sessions() as session:
            return [
                GroupView(g.name, g.override, sorted((x.door_id, x.schedule) for x in g.grants), sorted(m.person_id for m in g.members))
                for g in session.scalars(select(models.AccessGroup).order_by(models.AccessGroup.name))
            ]

    def person(self, person_id: str) -> PersonAccessView:
        with self.sessions() as session:
            person = self._person(session, person_id)
            groups = sorted(session.scalars(select(models.GroupMember.group).where(models.GroupMember.person_id == person_id)))
            badge = session.scalar(select(models.Badge.number).where(models.Badge.person_id == person_id))
            return PersonAccessView(person_id, groups, person.valid_from_day or aware(person.valid_from), person.valid_until_day or aware(person.valid_until), person.suspended, badge)

    # -- doors ------------------------------------------------------------------------------
    def set_door(self, door_id: str, name: str | None = None, tz_name: str | None = None) -> None:
        """Create a door, or change its name or timezone."""
        check_name("door", door_id)
        if door_id == "admin":
            raise AccessPolicyError("door name 'admin' is reserved: the audit log's admin rows use it")
        if name is not None:
            try:
                name = clean_text(name, "door name", 128)
            except InvalidIdentifier as exc:
                raise AccessPolicyError(str(exc)) from exc
        zone(tz_name or self.site_timezone)
        with self._change() as session:
            door = session.get(models.Door, door_id)
            if door is None:
                session.add(models.Door(door_id=door_id, name=name or door_id, timezone=tz_name or self.site_timezone, lockdown=False))
            else:
                door.name, door.timezone = name or door.name, tz_name or door.timezone
            self._record(session, Decision.ACCESS_CHANGED, f"door {door_id} {'added' if door is None else 'changed'} (timezone {tz_name or (door.timezone if door else self.site_timezone)})")

    def remove_door(self, door_id: str) -> None:
        with self._change() as session:
            session.delete(self._door(session, door_id))
            self._record(session, Decision.ACCESS_CHANGED, f"door {door_id} removed, with its grants")

    def lockdown(self, door_id: str, locked: bool) -> None:
        """Lock a door down (only override groups pass) or release it; a door the policy does not
        know yet is added in the site timezone, so a lockdown never fails for want of setup."""
        check_name("door", door_id)
        with self._change() as session:
            door = session.get(models.Door, door_id)
            if door is None:
                door = models.Door(door_id=door_id, name=door_id, timezone=self.site_timezone, lockdown=False)
                session.add(door)
            door.lockdown = locked
            door.lockdown_since = datetime.now(timezone.utc) if locked else None
            self._record(session, Decision.LOCKDOWN if locked else Decision.RELEASED, f"door {door_id} {'locked down: only override groups pass' if locked else 'released from lockdown'}")

    # -- schedules --------------------------------------------------------------------------
    def set_schedule(self, name: str, windows: Iterable[str], holidays: Iterable[str] = ()) -> None:
        """Create or replace a schedule: weekly windows like ``mon-fri 08:00-18:00``, and dates
        (YYYY-MM-DD) on which it stays closed."""
        check_name("schedule", name)
        if name == ALWAYS:
            raise AccessPolicyError("schedule 'always' is built in and cannot be changed")
        parsed = [w for text in windows for w in parse_windows(text)]
        if not parsed:
            raise AccessPolicyError(f"schedule {name!r} needs at least one window, e.g. --window 'mon-fri 08:00-18:00'")
        days = sorted({_date(d) for d in holidays})
        with self._change() as session:
            row = session.get(models.Schedule, name)
            if row is None:
                row = models.Schedule(name=name)
                session.add(row)
            row.windows = [models.ScheduleWindow(weekday=w.weekday, start_minute=w.start, end_minute=w.end) for w in parsed]
            row.holidays = [models.ScheduleHoliday(day=d) for d in days]
            session.flush()
            self._record(session, Decision.ACCESS_CHANGED, f"schedule {name} set: {schedule_of(row).describe()}"[:1000])

    def remove_schedule(self, name: str) -> None:
        if name == ALWAYS:
            raise AccessPolicyError("schedule 'always' is built in and cannot be removed")
        with self._change() as session:
            row = session.get(models.Schedule, name)
            if row is None:
                raise AccessPolicyError(f"no schedule is named {name!r}")
            session.delete(row)
            self._record(session, Decision.ACCESS_CHANGED, f"schedule {name} removed, with the grants that used it")

    # -- groups, grants, members ------------------------------------------------------------
    def set_group(self, name: str, override: bool = False) -> None:
        check_name("group", name)
        with self._change() as session:
            row = session.get(models.AccessGroup, name)
            if row is None:
                session.add(models.AccessGroup(name=name, override=override))
            else:
                row.override = override
            self._record(session, Decision.ACCESS_CHANGED, f"group {name} {'added' if row is None else 'changed'}{' (override: passes lockdown)' if override else ''}")

    def remove_group(self, name: str) -> None:
        with self._change() as session:
            session.delete(self._group(session, name))
            self._record(session, Decision.ACCESS_CHANGED, f"group {name} removed, with its grants and memberships")

    def grant(self, group: str, door_id: str, schedule: str = ALWAYS) -> None:
        with self._change() as session:
            self._group(session, group)
            self._door(session, door_id)
            if session.get(models.Schedule, schedule) is None:
                raise AccessPolicyError(f"no schedule is named {schedule!r} (create it with `gatekeeper access schedule set`)")
            if session.get(models.GroupDoor, (group, door_id, schedule)) is None:
                session.add(models.GroupDoor(group=group, door_id=door_id, schedule=schedule))
            self._record(session, Decision.ACCESS_CHANGED, f"group {group} granted door {door_id} during {schedule}")

    def revoke(self, group: str, door_id: str, schedule: str | None = None) -> int:
        """Remove the group's grants of this door (only during ``schedule``, if given)."""
        with self._change() as session:
            query = delete(models.GroupDoor).where(models.GroupDoor.group == group, models.GroupDoor.door_id == door_id)
            if schedule is not None:
                query = query.where(models.GroupDoor.schedule == schedule)
            removed = session.execute(query).rowcount
            if not removed:
                raise AccessPolicyError(f"group {group!r} holds no grant of door {door_id!r}{f' during {schedule!r}' if schedule else ''}")
            self._record(session, Decision.ACCESS_CHANGED, f"group {group} no longer granted door {door_id}{f' during {schedule}' if schedule else ''}")
            return removed

    def add_members(self, group: str, person_ids: Iterable[str]) -> None:
        with self._change() as session:
            self._group(session, group)
            for pid in person_ids:
                self._person(session, pid)
                if session.get(models.GroupMember, (group, pid)) is None:
                    session.add(models.GroupMember(group=group, person_id=pid))
                self._record(session, Decision.ACCESS_CHANGED, f"added to group {group}", pid)

    def remove_members(self, group: str, person_ids: Iterable[str]) -> None:
        with self._change() as session:
            for pid in person_ids:
                row = session.get(models.GroupMember, (group, pid))
                if row is None:
                    raise AccessPolicyError(f"{pid!r} is not a member of group {group!r}")
                session.delete(row)
                self._record(session, Decision.ACCESS_CHANGED, f"removed from group {group}", pid)

    # -- a person's validity ----------------------------------------------------------------
    def set_validity(self, person_id: str, valid_from: Bound | None, valid_until: Bound | None, clear: bool = False) -> None:
        """Set the person's access start and end, each an aware instant or a calendar day (judged at
        each door's local date); ``clear`` removes both first."""
        for value in (valid_from, valid_until):
            if isinstance(value, datetime) and value.tzinfo is None:
                raise AccessPolicyError("validity times must carry a timezone")
        with self._change() as session:
            person = self._person(session, person_id)
            start = None if clear else (person.valid_from_day or aware(person.valid_from))
            end = None if clear else (person.valid_until_day or aware(person.valid_until))
            start, end = valid_from or start, valid_until or end
            if start is not None and end is not None and self._ordered(end, self.site_timezone) < self._ordered(start, self.site_timezone, first=True):
                raise AccessPolicyError(f"valid until ({_shown(end)}) must be after valid from ({_shown(start)})")
            person.valid_from, person.valid_from_day = (start, None) if isinstance(start, datetime) or start is None else (None, start)
            person.valid_until, person.valid_until_day = (end, None) if isinstance(end, datetime) or end is None else (None, end)
            shown = f"from {_shown(start) if start else 'any time'} until {_shown(end) if end else 'no end'}"
            self._record(session, Decision.ACCESS_CHANGED, f"validity set: {shown}", person_id)

    @staticmethod
    def _ordered(bound: Bound, tz_name: str, first: bool = False) -> datetime:
        """A bound as an instant for comparing start with end: a start day from its first moment,
        an end day to its last (in the site's timezone)."""
        if isinstance(bound, datetime):
            return bound
        return datetime.combine(bound if first else bound + timedelta(days=1), time(0), zone(tz_name)) - (timedelta(0) if first else timedelta(microseconds=1))

    def suspend(self, person_id: str, suspended: bool) -> None:
        with self._change() as session:
            self._person(session, person_id).suspended = suspended
            self._record(session, Decision.ACCESS_CHANGED, "access suspended" if suspended else "access resumed", person_id)

    # -- badges (card + face doors) ----------------------------------------------------------
    def set_badge(self, person_id: str, number: str) -> None:
        """Give a person their badge number (replacing an earlier one); a number another person
        holds is refused, naming them."""
        if not BADGE_NUMBER.fullmatch(number):
            raise AccessPolicyError(f"badge number {number!r} is not valid: 1-64 letters, digits or dashes, starting with a letter or digit")
        with self._change() as session:
            self._person(session, person_id)
            holder = session.scalar(select(models.Badge.person_id).where(models.Badge.number == number))
            if holder is not None and holder != person_id:
                raise AccessPolicyError(f"badge {number} already belongs to {holder!r}: remove it there first")
            session.execute(delete(models.Badge).where(models.Badge.person_id == person_id))
            session.add(models.Badge(number=number, person_id=person_id))
            self._record(session, Decision.ACCESS_CHANGED, f"badge {number} assigned", person_id)

    def remove_badge(self, person_id: str) -> bool:
        """False when the person holds no badge."""
        with self._change() as session:
            self._person(session, person_id)
            gone = session.execute(delete(models.Badge).where(models.Badge.person_id == person_id)).rowcount
            if gone:
                self._record(session, Decision.ACCESS_CHANGED, "badge removed", person_id)
        return bool(gone)

    # -- helpers ----------------------------------------------------------------------------
    def _change(self) -> "_Change":
        return _Change(self.sessions)

    def _record(self, session: Session, action: Decision, detail: str, person_id: str | None = None) -> None:
        self.audit.admin_action(session, action, self.actor, person_id, detail)

    @staticmethod
    def _door(session: Session, door_id: str) -> models.Door:
        door = session.get(models.Door, door_id)
        if door is None:
            raise AccessPolicyError(f"no door is named {door_id!r} (add it with `gatekeeper access door set {door_id} --timezone ...`)")
        return door

    @staticmethod
    def _group(session: Session, name: str) -> models.AccessGroup:
        group = session.get(models.AccessGroup, name)
        if group is None:
            raise AccessPolicyError(f"no access group is named {name!r}")
        return group

    @staticmethod
    def _person(session: Session, person_id: str) -> models.Person:
        person = session.get(models.Person, person_id)
        if person is None:
            raise AccessPolicyError(f"no enrolled person has id {person_id!r}")
        return person


class _Change:
    """One policy change: a transaction that bumps the access generation first, commits on
    success and rolls everything back (the audit row included) on any error."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._ctx = sessions.begin()

    def __enter__(self) -> Session:
        session = self._ctx.__enter__()
        bump_access_generation(session)
        return session

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)  # type: ignore[arg-type]


def _shown(bound: Bound) -> str:
    return bound.isoformat() if isinstance(bound, datetime) else f"{bound.isoformat()} (the day at each door)"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise AccessPolicyError(f"holiday {text!r} is not a date (YYYY-MM-DD)") from exc

