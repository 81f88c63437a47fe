from datetime import date, datetime

from pydantic import BaseModel, Field

from gatekeeper.core.access import ALWAYS


class DoorPolicyOut(BaseModel):
    door_id: str
    name: str
    timezone: str
    lockdown: bool
    lockdown_since: datetime | None


class ScheduleOut(BaseModel):
    name: str
    description: str


class GrantOut(BaseModel):
    door_id: str
    schedule: str


class GroupOut(BaseModel):
    name: str
    override: bool = Field(description="members pass this group's doors even in lockdown")
    grants: list[GrantOut]
    members: list[str]


class AccessOut(BaseModel):
    """The whole access policy: doors, schedules, groups with their grants and members."""

    doors: list[DoorPolicyOut]
    schedules: list[ScheduleOut]
    groups: list[GroupOut]


class PersonAccessOut(BaseModel):
    person_id: str
    groups: list[str]
    valid_from: datetime | date | None = Field(description="an instant, or the first day in (judged at each door's local date)")
    valid_until: datetime | date | None = Field(description="an instant, or the last day in")
    suspended: bool
    badge: str | None


class AccessCheckOut(BaseModel):
    """The door's own answer for a person at a door and time, with its reason."""

    person_id: str
    door_id: str
    at: datetime
    permitted: bool
    reason: str
    via: str | None = Field(description="what lets them in: group and schedule")
    local_time: datetime | None


class DoorIn(BaseModel):
    name: str | None = Field(None, max_length=128)
    timezone: str | None = Field(None, max_length=64, description="IANA timezone, e.g. Europe/Berlin")


class ScheduleIn(BaseModel):
    windows: list[str] = Field(description='weekly windows, e.g. ["mon-fri 08:00-18:00", "sat 09:00-13:00"]', max_length=50)
    holidays: list[str] = Field(default_factory=list, description="ISO dates on which the schedule is closed", max_length=400)


class GroupIn(BaseModel):
    override: bool = False


class GrantIn(BaseModel):
    group: str
    door_id: str
    schedule: str = ALWAYS


class MembersIn(BaseModel):
    person_ids: list[str] = Field(min_length=1, max_length=10000)


class ValidityIn(BaseModel):
    """Each bound an ISO date (that whole day, at each door's local date) or a time (wall-clock
    time in the site's timezone unless it carries an offset); ``clear`` removes both."""

    valid_from: str | None = Field(None, max_length=40)
    valid_until: str | None = Field(None, max_length=40)
    clear: bool = False


class SuspensionIn(BaseModel):
    suspended: bool


class ChangedOut(BaseModel):
    """What a change did, in words (the audit log has the row)."""

    done: str
