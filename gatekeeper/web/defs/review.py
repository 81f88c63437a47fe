from datetime import datetime

from pydantic import BaseModel, Field


class NearestOut(BaseModel):
    person_id: str
    similarity: float


class CaptureOut(BaseModel):
    """A refused door face waiting for review (its face: GET /review/captures/{id}/face, admins only)."""

    capture_id: int
    event_id: int | None
    door_id: str
    at: datetime
    decision: str
    nearest_id: str | None = Field(description="the nearest enrolled person when the door refused the face")
    best_similarity: float | None
    nearest_now: list[NearestOut] = Field(description="the nearest enrolled people now")


class CandidateOut(BaseModel):
    """A confident grant's frame offered as a template photo (door_templates = review)."""

    candidate_id: int
    person_id: str
    door_id: str
    at: datetime
    similarity: float


class ReviewOut(BaseModel):
    captures: list[CaptureOut]
    candidates: list[CandidateOut]


class AssignIn(BaseModel):
    person_id: str
    force: bool = Field(False, description="add the face even if it looks like someone else enrolled")


class NotPersonIn(BaseModel):
    person_id: str
