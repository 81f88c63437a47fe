"""The access policy as tables: group x schedule x validity x lockdown x daylight-saving edges,
on the pure core (no database, no camera; the instant is passed in)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gatekeeper.core import Decision, Verdict, apply_access
from gatekeeper.core.access import (
    AccessGroup,
    AccessPolicy,
    AccessPolicyError,
    DoorRecord,
    PersonAccess,
    Refusal,
    Schedule,
    parse_windows,
)

UTC = timezone.utc
BERLIN = "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def schedule(name: str, *windows: str, holidays: tuple[str, ...] = ()) -> Schedule:
    from datetime import date

    return Schedule(name, tuple(w for text in windows for w in parse_windows(text)), frozenset(date.fromisoformat(d) for d in holidays))


SCHEDULES = {
    "office": schedule("office", "mon-fri 08:00-18:00", holidays=("2026-12-25",)),
    "night": schedule("night", "fri 22:00-06:00", holidays=("2026-12-04",)),
    "dst-gap": schedule("dst-gap", "sun 02:00-03:00"),
    "dst-twice": schedule("dst-twice", "sun 02:00-02:30"),
    "sunday": schedule("sunday", "sun 08:00-18:00"),
}
GROUPS = {
    "staff": AccessGroup("staff", (("front", "office"),)),
    "cleaners": AccessGroup("cleaners", (("front", "night"),)),
    "dst": AccessGroup("dst", (("front", "dst-gap"), ("side", "dst-twice"), ("lab", "sunday"))),
    "security": AccessGroup("security", (("front", "always"),), override=True),
    "lab-override": AccessGroup("lab-override", (("lab", "always"),), override=True),
}
PEOPLE = {
    "ada": PersonAccess(frozenset({"staff"})),
    "bob": PersonAccess(frozenset({"cleaners"})),
    "dee": PersonAccess(frozenset({"dst"})),
    "sam": PersonAccess(frozenset({"security"})),
    "lou": PersonAccess(frozenset({"lab-override", "staff"})),
    "kim": PersonAccess(frozenset({"staff"}), valid_from=utc("2026-12-07 07:00"), valid_until=utc("2026-12-11 23:00")),
    "sus": PersonAccess(frozenset({"staff", "security"}), suspended=True),
    "new": PersonAccess(),
}


def policy(lockdown: bool = False, groups: dict[str, AccessGroup] | None = None) -> AccessPolicy:
    doors = {d: DoorRecord(d, BERLIN, lockdown and d == "front") for d in ("front", "side", "lab")}
    return AccessPolicy(doors, SCHEDULES, GROUPS if groups is None else groups, PEOPLE, "UTC")


# (person, door, UTC instant, lockdown, expected refusal or None for permitted). Berlin is UTC+1
# in winter (CET) and UTC+2 in summer (CEST); 2026-12-07 is a Monday.
CASES = [
    ("ada", "front", "2026-12-07 08:30", False, None),  # Mon 09:30 CET, office hours
    ("ada", "front", "2026-12-07 06:59", False, Refusal.OUTSIDE_SCHEDULE),  # Mon 07:59 CET
    ("ada", "front", "2026-12-07 07:00", False, None),  # Mon 08:00 CET, the first minute
    ("ada", "front", "2026-12-07 17:00", False, Refusal.OUTSIDE_SCHEDULE),  # Mon 18:00 CET, the end is exclusive
    ("ada", "front", "2026-12-05 10:00", False, Refusal.OUTSIDE_SCHEDULE),  # Saturday
    ("ada", "front", "2026-12-25 10:00", False, Refusal.OUTSIDE_SCHEDULE),  # a Friday, but a holiday
    ("ada", "side", "2026-12-07 08:30", False, Refusal.NO_GROUP),  # staff has no grant of side
    ("new", "front", "2026-12-07 08:30", False, Refusal.NO_GROUP),  # in no group at all
    # Midnight-spanning: fri 22:00-06:00 belongs to Friday, runs into Saturday.
    ("bob", "front", "2026-12-11 22:30", False, None),  # Fri 23:30 CET
    ("bob", "front", "2026-12-12 04:59", False, None),  # Sat 05:59 CET
    ("bob", "front", "2026-12-12 05:00", False, Refusal.OUTSIDE_SCHEDULE),  # Sat 06:00 CET
    ("bob", "front", "2026-12-10 22:30", False, Refusal.OUTSIDE_SCHEDULE),  # Thu 23:30: no Thursday window
    ("bob", "front", "2026-12-05 01:00", False, Refusal.OUTSIDE_SCHEDULE),  # Sat 02:00 after a Friday holiday (Dec 4)
    # Daylight saving, Europe/Berlin. Spring forward 2026-03-29 01:00 UTC: 02:00 CET -> 03:00 CEST.
    ("dee", "front", "2026-03-29 00:59", False, Refusal.OUTSIDE_SCHEDULE),  # 01:59 CET
    ("dee", "front", "2026-03-29 01:00", False, Refusal.OUTSIDE_SCHEDULE),  # 03:00 CEST: the 02:00-03:00 window never happens
    ("dee", "lab", "2026-03-29 06:30", False, None),  # 08:30 CEST: summer time applies the same day
    ("dee", "lab", "2026-03-22 06:30", False, Refusal.OUTSIDE_SCHEDULE),  # a week before: 07:30 CET
    # Fall back 2026-10-25 01:00 UTC: 03:00 CEST -> 02:00 CET; 02:00-03:00 local happens twice.
    ("dee", "side", "2026-10-25 00:15", False, None),  # 02:15 CEST, the first time
    ("dee", "side", "2026-10-25 01:15", False, None),  # 02:15 CET, the second time
    ("dee", "side", "2026-10-25 00:45", False, Refusal.OUTSIDE_SCHEDULE),  # 02:45 CEST
    # Validity: from is inclusive, until is exclusive.
    ("kim", "front", "2026-12-07 06:59", False, Refusal.NOT_YET_VALID),
    ("kim", "front", "2026-12-07 07:00", False, None),
    ("kim", "front", "2026-12-11 22:59", False, Refusal.OUTSIDE_SCHEDULE),  # valid, but Fri 23:59 is after hours
    ("kim", "front", "2026-12-11 10:00", False, None),
    ("kim", "front", "2026-12-14 10:00", False, Refusal.EXPIRED),
    ("sus", "front", "2026-12-07 08:30", False, Refusal.SUSPENDED),  # suspension beats every group
    ("sus", "front", "2026-12-07 08:30", True, Refusal.SUSPENDED),  # ... and the lockdown override
    # Lockdown: only override groups listing the door pass, whatever the schedule says.
    ("ada", "front", "2026-12-07 08:30", True, Refusal.LOCKDOWN),
    ("sam", "front", "2026-12-05 03:00", True, None),  # security overrides, on a Saturday night too
    ("lou", "front", "2026-12-07 08:30", True, Refusal.LOCKDOWN),  # an override group, but for another door
    ("ada", "side", "2026-12-07 08:30", True, Refusal.NO_GROUP),  # the lockdown is on front only
]


@pytest.mark.parametrize(("person", "door", "at", "lockdown", "refusal"), CASES)
def test_access_table(person: str, door: str, at: str, lockdown: bool, refusal: Refusal | None) -> None:
    answer = policy(lockdown).check(person, door, utc(at))
    assert answer.refusal == refusal, answer.reason
    assert answer.permitted == (refusal is None)
    if refusal is not None:
        assert answer.reason.startswith(str(refusal))


def test_no_policy_means_everyone_every_door_always_but_validity_and_lockdown_still_apply() -> None:
    empty = policy(groups={})
    assert empty.check("new", "front", utc("2026-12-05 03:00")).permitted
    assert empty.check("new", "never-configured", utc("2026-12-05 03:00")).permitted
    assert empty.check("kim", "front", utc("2026-12-14 10:00")).refusal == Refusal.EXPIRED
    assert policy(lockdown=True, groups={}).check("new", "front", utc("2026-12-07 08:30")).refusal == Refusal.LOCKDOWN


def test_refusals_explain_themselves_in_the_doors_local_time() -> None:
    answer = policy().check("ada", "front", utc("2026-12-05 10:00"))
    assert "Sat 2026-12-05 11:00 CET" in answer.reason and "office (mon-fri 08:00-18:00; closed on 2026-12-25)" in answer.reason
    assert "access ended 2026-12-12 00:00 CET" in policy().check("kim", "front", utc("2026-12-14 10:00")).reason


def test_a_grant_whose_schedule_is_missing_never_opens() -> None:
    groups = {"staff": AccessGroup("staff", (("front", "deleted-schedule"),))}
    answer = policy(groups=groups).check("ada", "front", utc("2026-12-07 08:30"))
    assert answer.refusal == Refusal.OUTSIDE_SCHEDULE and "missing: never open" in answer.reason


def test_a_naive_instant_is_refused_not_guessed() -> None:
    with pytest.raises(AccessPolicyError, match="aware"):
        policy().check("ada", "front", datetime(2026, 12, 7, 9, 30))


@pytest.mark.parametrize(
    ("text", "problem"),
    [("mon-fri 8-18", "expected DAYS"), ("xyz 08:00-09:00", "unknown day"), ("mon 25:00-26:00", "not a time"), ("mon 08:00-08:00", "same time"), ("mon 24:00-02:00", "cannot start")],
)
def test_bad_windows_are_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(AccessPolicyError, match=problem):
        parse_windows(text)


def test_window_syntax() -> None:
    assert [w.weekday for w in parse_windows("fri-mon 08:00-09:00")] == [0, 4, 5, 6]  # wraps over the weekend
    assert len(parse_windows("daily 00:00-24:00")) == 7
    assert str(parse_windows("sat 22:00-06:00")[0]) == "sat 22:00-06:00" and parse_windows("sat 22:00-06:00")[0].overnight


def test_apply_access_turns_only_grants_into_not_permitted() -> None:
    at = utc("2026-12-05 10:00")  # a Saturday: ada is outside office hours
    verdicts = [Verdict(Decision.GRANTED, "ada", 0.9, 0.3), Verdict(Decision.GRANTED, "sam", 0.9, 0.3), Verdict(Decision.DENIED_UNKNOWN, None, 0.2, 0.1)]
    out = apply_access(verdicts, policy(), "front", at)
    assert [v.decision for v in out] == [Decision.DENIED_NOT_PERMITTED, Decision.GRANTED, Decision.DENIED_UNKNOWN]
    assert out[0].person_id == "ada" and out[0].detail.startswith("not permitted: outside schedule")
    assert out[0].best == 0.9  # the match evidence stays on the row


def test_a_timezone_that_does_not_exist_is_refused() -> None:
    bad = AccessPolicy({"front": DoorRecord("front", "Mars/Olympus")}, {}, {}, {}, "UTC")
    with pytest.raises(AccessPolicyError, match="IANA"):
        bad.check("ada", "front", utc("2026-12-07 08:30") + timedelta(0))


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "", "UTC\x00"])
def test_the_site_timezone_setting_refuses_what_is_not_an_iana_name(name: str) -> None:
    from pydantic import ValidationError

    from gatekeeper.config import Settings

    with pytest.raises(ValidationError, match="timezone"):
        Settings(timezone=name)
