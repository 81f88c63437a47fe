"""SQLAlchemy 2.x tables: people, their photo templates, door decisions, and bookkeeping."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
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
    photos: Mapped[list["Photo"]] = relationship(back_populates="person", cascade="all, delete-orphan")


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
