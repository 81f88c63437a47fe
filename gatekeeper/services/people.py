"""Who is enrolled: the people queries the CLI, the public API and (later) the web console share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.storage.models import Person, Photo
from gatekeeper.storage.templates import TemplateCodec


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
    photo_id: int = 0
    added_at: datetime | None = None


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
        return _summary(p), [EnrolledPhoto(ph.source, dict(ph.quality or {}), ph.photo_id, ph.created_at) for ph in p.photos]


def names_of(sessions: sessionmaker[Session], person_ids: set[str]) -> dict[str, str]:
    """Display names for the given ids (ids nobody has are left out)."""
    if not person_ids:
        return {}
    with sessions() as s:
        return {pid: name for pid, name in s.execute(select(Person.person_id, Person.name).where(Person.person_id.in_(person_ids)))}


def search_people(sessions: sessionmaker[Session], query: str = "", limit: int = 50, offset: int = 0) -> tuple[list[EnrolledPerson], int]:
    """One page of people whose id or name contains ``query`` (case-insensitive), by id, with
    the total: one query for the page and its photo counts, one for the total (no N+1)."""
    with sessions() as s:
        where = or_(Person.person_id.ilike(f"%{_like(query)}%", escape="\\"), Person.name.ilike(f"%{_like(query)}%", escape="\\")) if query else None
        counts = select(Photo.person_id, func.count().label("n")).group_by(Photo.person_id).subquery()
        page = select(Person.person_id, Person.name, func.coalesce(counts.c.n, 0), Person.model_version, Person.created_at, Person.updated_at).outerjoin(counts, counts.c.person_id == Person.person_id)
        total = select(func.count()).select_from(Person)
        if where is not None:
            page, total = page.where(where), total.where(where)
        rows = s.execute(page.order_by(Person.person_id).limit(limit).offset(offset)).all()
        return [EnrolledPerson(*row) for row in rows], int(s.scalar(total) or 0)


def face_thumbnail(sessions: sessionmaker[Session], codec: TemplateCodec, person_id: str) -> bytes | None:
    """The aligned face (JPEG) of the person's first enrollment photo, opened with the template
    key; None when they have none stored (enrolled before schema 0004)."""
    with sessions() as s:
        blob = s.scalar(select(Photo.face_crop).where(Photo.person_id == person_id, Photo.face_crop.is_not(None)).order_by(Photo.photo_id).limit(1))
    return codec.unseal(blob) if blob else None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def count_people(sessions: sessionmaker[Session]) -> int:
    """How many people are enrolled (what the door's operating point depends on)."""
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Person)) or 0)
