"""Who is enrolled: the people queries the CLI, the public API and (later) the web console share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.storage.models import Person


@dataclass(frozen=True)
class EnrolledPerson:
    person_id: str
    name: str
    photos: int
    model_version: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class EnrolledPhoto:
    source: str  # the file it came from, as given at enrollment
    quality: dict[str, float]


def _summary(p: Person) -> EnrolledPerson:
    return EnrolledPerson(p.person_id, p.name, len(p.photos), p.model_version, p.created_at, p.updated_at)


def list_people(sessions: sessionmaker[Session]) -> list[EnrolledPerson]:
    """Everyone enrolled, by id."""
    with sessions() as s:
        return [_summary(p) for p in s.execute(select(Person).order_by(Person.person_id)).scalars()]


def find_person(sessions: sessionmaker[Session], person_id: str) -> tuple[EnrolledPerson, list[EnrolledPhoto]] | None:
    """One person and the photos their template was built from; None when nobody has this id."""
    with sessions() as s:
        p = s.get(Person, person_id)
        if p is None:
            return None
        return _summary(p), [EnrolledPhoto(ph.source, dict(ph.quality or {})) for ph in p.photos]


def names_of(sessions: sessionmaker[Session], person_ids: set[str]) -> dict[str, str]:
    """Display names for the given ids (ids nobody has are left out)."""
    if not person_ids:
        return {}
    with sessions() as s:
        return {pid: name for pid, name in s.execute(select(Person.person_id, Person.name).where(Person.person_id.in_(person_ids)))}
