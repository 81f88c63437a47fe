"""Door decisions from per-frame matches: threshold, margin, N-of-M votes, cooldown.

A face is granted only when the best-matching person clears the similarity threshold, beats the
runner-up by the margin (lookalikes, relatives), and wins N of the last M frames of its track.
Each track gets one decision, and each person at most one grant per cooldown: one visit, one event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gatekeeper.gallery import Candidate
from gatekeeper.thresholds import DecisionThresholds
from gatekeeper.track import Track

AMBIGUOUS = "\x00ambiguous"  # a frame vote for "above threshold but too close to a runner-up"
LOW_QUALITY = "\x00quality"


class Decision(StrEnum):
    GRANTED = "granted"
    DENIED_UNKNOWN = "denied-unknown"
    DENIED_AMBIGUOUS = "denied-ambiguous"
    DENIED_QUALITY = "denied-quality"
    ERROR = "error"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    person_id: str | None
    best: float | None
    second: float | None
    detail: str = ""


class DoorPolicy:
    def __init__(self, thresholds: DecisionThresholds, cooldown_s: float) -> None:
        self.t = thresholds
        self.cooldown_s = cooldown_s
        self._last_grant: dict[str, float] = {}

    def frame_vote(self, candidates: list[Candidate]) -> str | None:
        """This frame's winner: a person id, AMBIGUOUS, or None (nobody close enough)."""
        if not candidates or candidates[0].similarity < self.t.match:
            return None
        second = candidates[1].similarity if len(candidates) > 1 else -1.0
        return candidates[0].person_id if candidates[0].similarity - second >= self.t.margin else AMBIGUOUS

    def judge(self, track: Track, vote: str | None, candidates: list[Candidate], now: float) -> Verdict | None:
        """Add this frame's vote to the track; return a verdict once the track is decided."""
        if track.decided:
            return None
        track.votes = (track.votes + [vote])[-self.t.votes_window :]
        best = candidates[0].similarity if candidates else None
        second = candidates[1].similarity if len(candidates) > 1 else None
        winner = self._winner(track.votes)
        if winner is not None:
            track.decided = True
            if now - self._last_grant.get(winner, float("-inf")) < self.cooldown_s:
                return None  # the same visit seen again: no second unlock, no second event
            self._last_grant[winner] = now
            return Verdict(Decision.GRANTED, winner, best, second)
        if len(track.votes) < self.t.votes_window:
            return None
        track.decided = True
        return self._denial(track.votes, candidates, best, second)

    def _winner(self, votes: list[str | None]) -> str | None:
        people = [v for v in votes if v is not None and not v.startswith("\x00")]
        for person in set(people):
            if people.count(person) >= self.t.votes_needed:
                return person
        return None

    def _denial(self, votes: list[str | None], candidates: list[Candidate], best: float | None, second: float | None) -> Verdict:
        if votes.count(LOW_QUALITY) > len(votes) // 2:
            return Verdict(Decision.DENIED_QUALITY, None, best, second, "face quality too low to decide")
        if AMBIGUOUS in votes:
            who = candidates[0].person_id if candidates else None
            return Verdict(Decision.DENIED_AMBIGUOUS, who, best, second, "too close to a second enrolled person")
        return Verdict(Decision.DENIED_UNKNOWN, None, best, second)
