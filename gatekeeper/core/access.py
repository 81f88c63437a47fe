"""Access policy: whether a recognised person may open this door now.

Recognition says *who* is at the door; this says whether they may enter *here, now*. A person
holds access groups; a group grants doors, each during a weekly schedule in the door's timezone;
a person's access has a start, an end and a suspension switch; a door can be locked down, so that
only members of an override group with that door pass. An installation that defines no group
keeps the simple rule: everyone enrolled, every door, always (validity, suspension and lockdown
still apply: they are set on purpose).

Pure: the policy is an immutable snapshot of the database, and the time is passed in (a
timezone-aware instant), so every rule, daylight-saving edge included, is a table test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gatekeeper.errors import InputError

ALWAYS = "always"  # the built-in schedule: every day, all day
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


class AccessPolicyError(InputError):
    """A schedule, window or timezone that cannot mean anything: refused when it is written."""


class Refusal(StrEnum):
    """Why a recognised person is not let in (the audit row's detail starts with it)."""

    SUSPENDED = "suspended"
    NOT_YET_VALID = "not yet valid"
    EXPIRED = "expired"
    LOCKDOWN = "door in lockdown"
    NO_GROUP = "no group for this door"
    OUTSIDE_SCHEDULE = "outside schedule"


@dataclass(frozen=True)
class Window:
    """A weekly window in local wall-clock time. It belongs to the day it starts on; an end at
    or before its start runs past midnight into the next day (``fri 22:00-06:00``)."""

    weekday: int  # 0 = Monday
    start: int  # minutes after midnight, 0-1439
    end: int  # minutes after midnight, 1-1440

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def __str__(self) -> str:
        return f"{DAYS[self.weekday]} {_hhmm(self.start)}-{_hhmm(self.end)}"


def parse_windows(text: str) -> tuple[Window, ...]:
    """``mon-fri 08:00-18:00``, ``sat,sun 10:00-14:00``, ``daily 22:00-06:00`` (one window per day)."""
    match = _WINDOW.match(text.lower())
    if not match:
        raise AccessPolicyError(f"window {text!r}: expected DAYS HH:MM-HH:MM, e.g. 'mon-fri 08:00-18:00'")
    start, end = _minutes(match["start"], text), _minutes(match["end"], text)
    if start == 1440:
        raise AccessPolicyError(f"window {text!r}: a window cannot start at 24:00")
    if start == end:
        raise AccessPolicyError(f"window {text!r}: it starts and ends at the same time (use 00:00-24:00 for all day)")
    return tuple(Window(day, start, end) for day in _days(match["days"], text))


def _days(spec: str, text: str) -> list[int]:
    if spec in ("daily", "all"):
        return list(range(7))
    days: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise AccessPolicyError(f"window {text!r}: unknown day in {part!r} (use {', '.join(DAYS)} or daily)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days += list(range(a, b + 1)) if a <= b else list(range(a, 7)) + list(range(0, b + 1))  # fri-mon wraps
    return sorted(set(days))


def _minutes(hhmm: str, text: str) -> int:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise AccessPolicyError(f"window {text!r}: {hhmm} is not a time of day")
    return hours * 60 + minutes


def _day_ranges(days: list[int]) -> str:
    """[0, 1, 2, 3, 4, 6] -> 'mon-fri,sun'; all seven -> 'daily'."""
    days = sorted(set(days))
    if len(days) == 7:
        return "daily"
    runs: list[list[int]] = []
    for d in days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(DAYS[r[0]] if len(r) == 1 else f"{DAYS[r[0]]}-{DAYS[r[-1]]}" for r in runs)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def zone(name: str) -> ZoneInfo:
    """An IANA timezone by name, or a clear refusal (no hand-written offsets anywhere)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise AccessPolicyError(f"timezone {name!r} is not an IANA timezone name (e.g. Europe/Berlin, America/New_York, UTC)") from exc


@dataclass(frozen=True)
class Schedule:
    """Weekly windows plus holiday dates; a holiday closes the windows that start on it."""

    name: str
    windows: tuple[Window, ...]
    holidays: frozenset[date] = frozenset()

    def is_open(self, local: datetime) -> bool:
        """Whether the schedule is open at this local wall-clock time (of the door's timezone)."""
        minute = local.hour * 60 + local.minute
        today, yesterday = local.date(), local.date() - timedelta(days=1)
        for w in self.windows:
            if w.weekday == today.weekday() and today not in self.holidays and w.start <= minute and (w.overnight or minute < w.end):
                return True
            if w.overnight and w.weekday == yesterday.weekday() and yesterday not in self.holidays and minute < w.end:
                return True
        return False

    def describe(self) -> str:
        """``mon-fri 08:00-18:00, sat 10:00-14:00; closed on 2026-12-25``."""
        spans: dict[tuple[int, int], list[int]] = {}
        for w in self.windows:
            spans.setdefault((w.start, w.end), []).append(w.weekday)
        text = ", ".join(f"{_day_ranges(days)} {_hhmm(a)}-{_hhmm(b)}" for (a, b), days in spans.items()) or "never open"
        return text + (f"; closed on {', '.join(str(d) for d in sorted(self.holidays))}" if self.holidays else "")


ALWAYS_SCHEDULE = Schedule(ALWAYS, tuple(Window(d, 0, 1440) for d in range(7)))


@dataclass(frozen=True)
class DoorRecord:
    door_id: str
    timezone: str
    lockdown: bool = False


@dataclass(frozen=True)
class AccessGroup:
    name: str
    grants: tuple[tuple[str, str], ...] = ()  # (door, schedule) pairs
    override: bool = False  # members pass a door of this group in lockdown


# A validity bound is an aware instant, or a calendar day judged at the door's local date (a
# start day is the first day in, an end day the last).
Bound = datetime | date


@dataclass(frozen=True)
class PersonAccess:
    groups: frozenset[str] = frozenset()
    valid_from: Bound | None = None  # an aware instant, or the first day in at the door
    valid_until: Bound | None = None  # access ends at this instant, or after this day at the door
    suspended: bool = False


@dataclass(frozen=True)
class AccessAnswer:
    permitted: bool
    reason: str  # for a refusal: the Refusal first, then the particulars
    refusal: Refusal | None = None
    via: str | None = None  # what let them in: "group staff, schedule office-hours"
    local_time: datetime | None = None  # the instant in the door's timezone

    def detail(self) -> str:
        return f"not permitted: {self.reason}"


@dataclass(frozen=True)
class AccessPolicy:
    """A snapshot of the whole policy, as the door evaluates it."""

    doors: dict[str, DoorRecord] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    groups: dict[str, AccessGroup] = field(default_factory=dict)
    people: dict[str, PersonAccess] = field(default_factory=dict)
    default_timezone: str = "UTC"
    generation: int = 0
    badges: dict[str, str] = field(default_factory=dict)  # badge number -> person id (card + face doors)

    def badge_holder(self, number: str) -> str | None:
        """Whom a badge names; None for a badge nobody holds or whose holder is suspended."""
        person = self.badges.get(number)
        if person is None or self.people.get(person, PersonAccess()).suspended:
            return None
        return person

    @property
    def defined(self) -> bool:
        """Whether any access group exists; without one, everyone enrolled may use every door."""
        return bool(self.groups)

    def check(self, person_id: str, door_id: str, at: datetime) -> AccessAnswer:
        """May this person open this door at this instant? Refusals say exactly why."""
        if at.tzinfo is None:
            raise AccessPolicyError("access is checked at an aware instant, never a naive local time")
        door = self.doors.get(door_id, DoorRecord(door_id, self.default_timezone))
        local = at.astimezone(zone(door.timezone))
        person = self.people.get(person_id, PersonAccess())
        refused = _validity(person, at, door)
        if refused is not None:
            return AccessAnswer(False, refused[1], refused[0], local_time=local)
        if door.lockdown:
            overrides = [g for g in self._groups_of(person) if g.override and any(d == door_id for d, _ in g.grants)]
            if not overrides:
                return AccessAnswer(False, f"{Refusal.LOCKDOWN}: {door_id} admits only override groups", Refusal.LOCKDOWN, local_time=local)
            return AccessAnswer(True, "lockdown override", via=f"override group {overrides[0].name}", local_time=local)
        if not self.defined:
            return AccessAnswer(True, "no access policy defined: everyone enrolled, every door, always", via="default policy", local_time=local)
        return self._by_groups(person, door_id, local)

    def _by_groups(self, person: PersonAccess, door_id: str, local: datetime) -> AccessAnswer:
        pairs = [(g.name, s) for g in self._groups_of(person) for d, s in g.grants if d == door_id]
        if not pairs:
            held = ", ".join(sorted(person.groups)) or "none"
            return AccessAnswer(False, f"{Refusal.NO_GROUP}: none of the person's groups ({held}) grants {door_id}", Refusal.NO_GROUP, local_time=local)
        for group, name in pairs:
            schedule = ALWAYS_SCHEDULE if name == ALWAYS else self.schedules.get(name)
            if schedule is not None and schedule.is_open(local):
                return AccessAnswer(True, "permitted", via=f"group {group}, schedule {name}", local_time=local)
        shown = "; ".join(f"group {g}: {s} ({self._describe(s)})" for g, s in pairs)
        return AccessAnswer(False, f"{Refusal.OUTSIDE_SCHEDULE}: it is {local:%a %Y-%m-%d %H:%M} {local.tzname()} at {door_id}; {shown}", Refusal.OUTSIDE_SCHEDULE, local_time=local)

    def _groups_of(self, person: PersonAccess) -> list[AccessGroup]:
        return [self.groups[g] for g in sorted(person.groups) if g in self.groups]

    def _describe(self, name: str) -> str:
        schedule = ALWAYS_SCHEDULE if name == ALWAYS else self.schedules.get(name)
        return schedule.describe() if schedule else "missing: never open"


def _validity(person: PersonAccess, at: datetime, door: DoorRecord) -> tuple[Refusal, str] | None:
    tz = zone(door.timezone)
    if person.suspended:
        return Refusal.SUSPENDED, f"{Refusal.SUSPENDED}: the person's access is suspended"
    local_day = at.astimezone(tz).date()
    start, end = person.valid_from, person.valid_until
    if isinstance(start, datetime) and at < start:
        return Refusal.NOT_YET_VALID, f"{Refusal.NOT_YET_VALID}: access starts {start.astimezone(tz):%Y-%m-%d %H:%M %Z}"
    if start is not None and not isinstance(start, datetime) and local_day < start:
        return Refusal.NOT_YET_VALID, f"{Refusal.NOT_YET_VALID}: access starts {start:%Y-%m-%d} ({door.timezone} at this door)"
    if isinstance(end, datetime) and at >= end:
        return Refusal.EXPIRED, f"{Refusal.EXPIRED}: access ended {end.astimezone(tz):%Y-%m-%d %H:%M %Z}"
    if end is not None and not isinstance(end, datetime) and local_day > end:
        return Refusal.EXPIRED, f"{Refusal.EXPIRED}: access ended with {end:%Y-%m-%d} ({door.timezone} at this door)"
    return None
