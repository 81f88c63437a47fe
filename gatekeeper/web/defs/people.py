from datetime import datetime

from pydantic import BaseModel


class PersonOut(BaseModel):
    person_id: str
    name: str
    photos: int
    model_version: str
    enrolled_at: str  # ISO time

    @classmethod
    def of(cls, person) -> "PersonOut":  # type: ignore[no-untyped-def]
        enrolled: datetime = person.created_at
        return cls(person_id=person.person_id, name=person.name, photos=person.photos, model_version=person.model_version, enrolled_at=enrolled.isoformat())


class PeopleOut(BaseModel):
    total: int
    people: list[PersonOut]


class PersonDetailOut(PersonOut):
    photo_quality: list[dict | None]


class PhotoOut(BaseModel):
    photo: str  # "photo N": never the client's file name
    usable: bool
    reason: str | None


class EnrollmentOut(BaseModel):
    person_id: str
    enrolled: bool
    reason: str | None
    photos: list[PhotoOut]

    @classmethod
    def of(cls, result) -> "EnrollmentOut":  # type: ignore[no-untyped-def]
        return cls(person_id=result.person_id, enrolled=result.enrolled, reason=result.reason, photos=[PhotoOut(photo=p.path, usable=p.ok, reason=p.reason) for p in result.photos])


class RenameIn(BaseModel):
    name: str


class RenamedOut(BaseModel):
    person_id: str
    name: str


class RemovedOut(BaseModel):
    person_id: str
    removed: bool


class PhotoInfoOut(BaseModel):
    photo_id: int
    source: str  # as given at enrollment ("photo N" for uploads: never the client's file name)
    added_at: datetime | None
    quality: dict[str, float]


class PhotosOut(BaseModel):
    person_id: str
    photos: list[PhotoInfoOut]

    @classmethod
    def of(cls, person_id: str, photos) -> "PhotosOut":  # type: ignore[no-untyped-def]
        return cls(person_id=person_id, photos=[PhotoInfoOut(photo_id=p.photo_id, source=p.source, added_at=p.added_at, quality=p.quality) for p in photos])
