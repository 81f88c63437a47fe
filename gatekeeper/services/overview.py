"""Today at a glance, for the console's landing page: decisions per hour and door (in the site's
timezone), counted by kind, the doors' health, and the latest refusals."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.access import zone
from gatekeeper.core.types import decision_kind
from gatekeeper.services.audit import ADMIN_DOOR
from gatekeeper.storage.access import aware
from gatekeeper.storage.models import AuditEvent

KINDS = ("granted", "denied", "spoof", "error")


@dataclass
class DoorDay:
    door_id: str
    hours: list[Counter[str]] = field(default_factory=lambda: [Counter() for _ in range(24)])  # kind -> count, per local hour

    @property
    def busiest(self) -> int:
        return max(sum(h.values()) for h in self.hours)


@dataclass(frozen=True)
class Today:
    day: str  # the local date shown
    timezone: str
    counts: Counter[str]  # kind -> decisions today
    doors: list[DoorDay]
    latest_denials: list[AuditEvent]

    @property
    def busiest_hour(self) -> int:
        return max((d.busiest for d in self.doors), default=0)


def today(sessions: sessionmaker[Session], tz_name: str, now: datetime | None = None, denials: int = 8) -> Today:
    """Door decisions since local midnight (admin rows left out)."""
    tz = zone(tz_name)
    local_now = (now or datetime.now(timezone.utc)).astimezone(tz)
    midnight = datetime.combine(local_now.date(), time(0), tz)
    with sessions() as s:
        rows = s.execute(select(AuditEvent.door_id, AuditEvent.decision, AuditEvent.at).where(AuditEvent.at >= midnight.astimezone(timezone.utc), AuditEvent.door_id != ADMIN_DOOR)).all()
        latest = list(s.scalars(select(AuditEvent).where(AuditEvent.at >= midnight - timedelta(days=1), AuditEvent.decision.like("denied%"), AuditEvent.door_id != ADMIN_DOOR)
                                .order_by(AuditEvent.at.desc(), AuditEvent.event_id.desc()).limit(denials)))
    counts: Counter[str] = Counter()
    doors: dict[str, DoorDay] = {}
    for door_id, decision, at in rows:
        kind = decision_kind(decision)
        counts[kind] += 1
        hour = aware(at).astimezone(tz).hour  # type: ignore[union-attr]
        doors.setdefault(door_id, DoorDay(door_id)).hours[hour][kind] += 1
    return Today(local_now.date().isoformat(), tz_name, counts, [doors[d] for d in sorted(doors)], latest)
