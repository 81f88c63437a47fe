"""SQLAlchemy 2.x tables: people, their photo templates, door decisions, and bookkeeping."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "people"

    person_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    # FAISS ids are int64; a surrogate key keeps them stable across renames.
    vector_id: Mapped[int] = mapped_column(Integer, unique=True)
    template: Mapped[bytes] = mapped_column(LargeBinary)  # the ONE person vector (mean of photos)
    model_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Access validity (schema 0008): instants in UTC; NULL = no start / no end.
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Validity by calendar day (schema 0013), judged at each door's local date; set instead of the
    # instants above when an admin gives a date without a time.
    valid_from_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    photos: Mapped[list["Photo"]] = relationship(back_populates="person", cascade="all, delete-orphan")


class Badge(Base):
    """A card + face door's badge number and whom it names (schema 0010): one per person."""

    __tablename__ = "badges"

    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.person_id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TemplateCandidate(Base):
    """A door frame of a confident grant, kept for an admin to add to the person's template (schema
    0011). Embedding and face are sealed like the enrollment photos'; removed with the person."""

    __tablename__ = "template_candidates"

    candidate_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.person_id", ondelete="CASCADE"), index=True)
    door_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    similarity: Mapped[float] = mapped_column(Float)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    face_crop: Mapped[bytes] = mapped_column(LargeBinary)
    model_version: Mapped[str] = mapped_column(String(64))
    quality: Mapped[dict] = mapped_column(JSON)


class DoorCapture(Base):
    """A refused face from a door (unknown, ambiguous, mismatch), kept for the review queue
    (schema 0014): an admin assigns it to a person, dismisses it, or marks it as not its nearest
    person. Embedding and face sealed like the enrollment photos'; expires after
    ``review_retention_days`` and goes with an anonymisation of its nearest person."""

    __tablename__ = "door_captures"

    capture_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    door_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    decision: Mapped[str] = mapped_column(String(32))
    nearest_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    best_similarity: Mapped[float | None] = mapped_column(Float, nullable=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    face_crop: Mapped[bytes] = mapped_column(LargeBinary)
    model_version: Mapped[str] = mapped_column(String(64))
    quality: Mapped[dict] = mapped_column(JSON)


class NegativeFace(Base):
    """A face an admin said is *not* this person (schema 0014): a door face nearer to it than to
    the person's template is never granted as them. Removed with the person."""

    __tablename__ = "negative_faces"

    negative_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.person_id", ondelete="CASCADE"), index=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    model_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Photo(Base):
    """One enrollment photo's embedding, kept so the person vector can always be recomputed."""

    __tablename__ = "photos"

    photo_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.person_id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    # The aligned face (JPEG, keepsake-272 layout, sealed like the embedding): what a model
    # change re-embeds. NULL for photos enrolled before revision 0004.
    face_crop: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    model_version: Mapped[str] = mapped_column(String(64))
    quality: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    person: Mapped[Person] = relationship(back_populates="photos")


class AuditEvent(Base):
    """One door decision. ``row_hash`` chains each row to the previous one (tamper evidence)."""

    __tablename__ = "audit_events"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    door_id: Mapped[str] = mapped_column(String(64), index=True)
    decision: Mapped[str] = mapped_column(String(32), index=True)
    person_id: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)
    best_similarity: Mapped[float | None] = mapped_column(Float, nullable=True)
    second_similarity: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    margin: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quality: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    snapshot: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The hash covers sha256(salt, person_id, snapshot) rather than those fields themselves, so
    # anonymising a row (clearing them and the salt) keeps the chain verifiable. The salt stops
    # anyone testing the digest against a list of employee ids while the row is still named.
    personal_salt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    personal_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    anonymised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # An admin action's row names what it applied to, e.g. {"events": [...], "at": "..."} for an
    # anonymisation: the anonymised rows themselves changed after they were hashed.
    covers: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # Who did it, for admin rows: the OS user of the CLI, or the console user (schema 0007).
    actor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # A denial's nearest enrolled person (schema 0007): personal like person_id, so it enters the
    # salted digest with it and anonymisation clears it.
    nearest_id: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class Meta(Base):
    """Small key/value facts: the gallery generation (bumped by every enrollment change)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# -- access policy (schema 0008): doors, schedules, groups, memberships ------------------------


class Door(Base):
    """A door the policy knows: its timezone (schedules are wall-clock times there) and mode."""

    __tablename__ = "doors"

    door_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    timezone: Mapped[str] = mapped_column(String(64))
    lockdown: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    lockdown_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Schedule(Base):
    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    windows: Mapped[list["ScheduleWindow"]] = relationship(cascade="all, delete-orphan", order_by="ScheduleWindow.window_id")
    holidays: Mapped[list["ScheduleHoliday"]] = relationship(cascade="all, delete-orphan", order_by="ScheduleHoliday.day")


class ScheduleWindow(Base):
    """A weekly window in the door's local time; ``end_minute <= start_minute`` runs past midnight."""

    __tablename__ = "schedule_windows"

    window_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(ForeignKey("schedules.name", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)


class ScheduleHoliday(Base):
    """A date on which the schedule's windows do not start (local date of the door)."""

    __tablename__ = "schedule_holidays"

    schedule: Mapped[str] = mapped_column(ForeignKey("schedules.name", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class AccessGroup(Base):
    __tablename__ = "access_groups"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    override: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # passes doors in lockdown
    grants: Mapped[list["GroupDoor"]] = relationship(cascade="all, delete-orphan")
    members: Mapped[list["GroupMember"]] = relationship(cascade="all, delete-orphan")


class GroupDoor(Base):
    """The group may open the door while the schedule is open ("always": the built-in schedule)."""

    __tablename__ = "group_doors"

    group: Mapped[str] = mapped_column(ForeignKey("access_groups.name", ondelete="CASCADE"), primary_key=True)
    door_id: Mapped[str] = mapped_column(ForeignKey("doors.door_id", ondelete="CASCADE"), primary_key=True)
    schedule: Mapped[str] = mapped_column(ForeignKey("schedules.name", ondelete="CASCADE"), primary_key=True)


class GroupMember(Base):
    __tablename__ = "group_members"

    group: Mapped[str] = mapped_column(ForeignKey("access_groups.name", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.person_id", ondelete="CASCADE"), primary_key=True, index=True)


# -- the web console (schema 0009): accounts, sessions, API tokens ------------------------------


class ConsoleUser(Base):
    """A console account: ``admin`` may change things, ``auditor`` may read and export."""

    __tablename__ = "console_users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2id, with its own salt and cost
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser. Only the token's sha256 is stored: a copy of the database opens no session."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("console_users.username", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A token for an integration (``Authorization: Bearer``), stored as its sha256."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # schema 0012


class DoorHeartbeat(Base):
    """What each running door last reported (schema 0009): the console's doors page."""

    __tablename__ = "door_heartbeats"

    door_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_frame_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    fps: Mapped[float] = mapped_column(Float, default=0.0)
    camera: Mapped[str] = mapped_column(String(32))  # "ok", or the last fault's kind
    model_version: Mapped[str] = mapped_column(String(64))
    gallery_generation: Mapped[int] = mapped_column(Integer)
    people: Mapped[int] = mapped_column(Integer)
