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


def decision_kind(decision: str) -> str:
    """What an admin reads first: granted, denied, spoof, error, or an admin action."""
    if decision == "granted":
        return "granted"
    if decision == "denied-spoof":
        return "spoof"
    if decision.startswith("denied"):
        return "denied"
    if decision == "error":
        return "error"
    return "admin"


class Decision(StrEnum):
    """What an audit row records: a door decision, or an admin action on the log itself."""

    GRANTED = "granted"
    DENIED_UNKNOWN = "denied-unknown"
    DENIED_AMBIGUOUS = "denied-ambiguous"
    DENIED_QUALITY = "denied-quality"
    DENIED_SPOOF = "denied-spoof"  # matched someone, but the face was not live (a photo)
    DENIED_NOT_PERMITTED = "denied-not-permitted"  # recognised and live, but the access policy says no
    DENIED_INCOMPLETE = "denied-incomplete"  # the visit ended before it could be decided (what was missing is in the detail)
    DENIED_UNKNOWN_BADGE = "denied-unknown-badge"  # card + face: a badge nobody holds, or whose holder is suspended
    DENIED_MISMATCH = "denied-mismatch"  # card + face: the face is not the badge holder's
    DENIED_CLAIM_EXPIRED = "denied-claim-expired"  # card + face: no face of the badge holder decided in time
    ERROR = "error"
    # What admins did, in the same chain (door "admin", the admin in ``actor``):
    ENROLLED = "enrolled"  # a new person, or a re-enrollment that replaced the photos
    EXTENDED = "extended"  # photos added to an enrolled person
    PHOTO_REMOVED = "photo-removed"  # one enrollment photo taken out; the template recomputed from the rest
    RENAMED = "renamed"
    REMOVED = "removed"
    MIGRATED = "migrated"  # everyone re-embedded with another model
    ANONYMISED = "anonymised"  # rows cleared of a person on request
    PURGED = "purged"  # rows deleted for retention
    ACCESS_CHANGED = "access-changed"  # a door, schedule, group, membership or validity changed
    LOCKDOWN = "lockdown"  # a door locked down (only override groups pass)
    RELEASED = "released"  # a door's lockdown lifted
    ACCOUNT_CHANGED = "account-changed"  # a console user or API token created
    SIGNED_IN = "signed-in"  # a console sign-in
    SIGN_IN_FAILED = "sign-in-failed"  # a wrong password (throttled: see web/security.py)
    CANDIDATE_DISMISSED = "candidate-dismissed"  # a door frame offered as a template photo was turned down
    CAPTURE_DISMISSED = "capture-dismissed"  # a refused door face in the review queue was turned down
    MARKED_NOT_PERSON = "marked-not-person"  # a door face kept as one that is not this person (never granted as them)



@dataclass(frozen=True)
class Verdict:
    decision: Decision
    person_id: str | None  # the granted person (or, for ambiguous and tailgating denials, the one in play)
    best: float | None
    second: float | None
    detail: str = ""
    nearest: str | None = None  # a denial's nearest enrolled person: who is refused, and by how much
    liveness: float | None = None  # the track's mean passive liveness score, when the door checks it
