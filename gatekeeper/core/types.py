"""Value types the decision core works on: who matched, how each frame voted, what was decided."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Candidate:
    """One enrolled person as a search result: their id and cosine similarity."""

    person_id: str
    similarity: float


class VoteKind(StrEnum):
    PERSON = "person"  # this frame's face matched one person clearly
    UNKNOWN = "unknown"  # nobody above the match threshold
    AMBIGUOUS = "ambiguous"  # above the threshold, but too close to a runner-up
    LOW_QUALITY = "low-quality"  # the face failed the quality gate: no match was attempted


@dataclass(frozen=True)
class Vote:
    kind: VoteKind
    person_id: str | None = None  # set only for PERSON

    @classmethod
    def person(cls, person_id: str) -> "Vote":
        return cls(VoteKind.PERSON, person_id)


UNKNOWN = Vote(VoteKind.UNKNOWN)
AMBIGUOUS = Vote(VoteKind.AMBIGUOUS)
LOW_QUALITY = Vote(VoteKind.LOW_QUALITY)


class Decision(StrEnum):
    """What an audit row records: a door decision, or an admin action on the log itself."""

    GRANTED = "granted"
    DENIED_UNKNOWN = "denied-unknown"
    DENIED_AMBIGUOUS = "denied-ambiguous"
    DENIED_QUALITY = "denied-quality"
    ERROR = "error"
    ANONYMISED = "anonymised"  # admin: rows cleared of a person on request
    PURGED = "purged"  # admin: rows deleted for retention


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    person_id: str | None
    best: float | None
    second: float | None
    detail: str = ""
