from typing import Any

from pydantic import BaseModel


class AuditRowOut(BaseModel):
    """One row of the audit log, as the CSV and JSON exports carry it."""

    event_id: int
    at: str  # ISO time, UTC ("Z")
    door_id: str
    decision: str
    person_id: str | None
    best_similarity: float | None
    second_similarity: float | None
    threshold: float | None
    margin: float | None
    model_version: str | None
    quality: Any  # the face's quality measurements and liveness score
    snapshot: str | None
    detail: str | None
    nearest_id: str | None
    actor: str | None
    anonymised_at: str | None
    row_hash: str | None


class AuditPageOut(BaseModel):
    total: int
    rows: list[AuditRowOut]
