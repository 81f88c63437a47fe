"""The door policy: from per-frame search results to at most one verdict per visit.

A face is granted only when the best-matching person clears the similarity threshold, beats the
runner-up by the margin (lookalikes, relatives), and wins N of the last M frames of its track.
Each track gets one decision, and each person at most one grant per cooldown: one visit, one
event. Ties decide nothing. ``now`` is always passed in, never read from a clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from gatekeeper.core.access import AccessPolicy
from gatekeeper.core.types import AMBIGUOUS, LOW_QUALITY, UNKNOWN, Candidate, Decision, Verdict, Vote, VoteKind


@dataclass(frozen=True)
class PolicyRules:
    match: float  # best cosine similarity needed to grant
    margin: float  # best minus second-best person
    votes_needed: int  # the same person must win N ...
    votes_window: int  # ... of the last M frames of a track
    cooldown_s: float  # one grant per person per cooldown
    liveness: float | None = None  # the track's mean live score must reach this to grant; None: not checked
    blink: float | None = None  # ... and the track must have blinked this deep; None: no blink needed
    liveness_window_s: float = 4.0  # how long a matched track may wait for its blink


@dataclass
class TrackVotes:
    """What the policy remembers about one face track."""

    votes: list[Vote] = field(default_factory=list)
    live_scores: list[float] = field(default_factory=list)  # passive liveness of its usable frames
    blink_depth: float = 0.0  # the deepest blink seen on the track so far
    started: float | None = None  # the injected clock's time of its first frame
    decided: bool = False

    def liveness(self, window: int) -> float | None:
        recent = self.live_scores[-window:]
        return sum(recent) / len(recent) if recent else None


class DoorPolicy:
    def __init__(self, rules: PolicyRules) -> None:
        self.rules = rules
        self._last_grant: dict[str, float] = {}

    def frame_vote(self, candidates: Sequence[Candidate], usable: bool = True) -> Vote:
        """This frame's vote: a person, UNKNOWN, AMBIGUOUS, or LOW_QUALITY (unusable face)."""
        if not usable:
            return LOW_QUALITY
        if not candidates or candidates[0].similarity < self.rules.match:
            return UNKNOWN
        second = candidates[1].similarity if len(candidates) > 1 else -1.0
        if candidates[0].similarity - second < self.rules.margin:
            return AMBIGUOUS
        return Vote.person(candidates[0].person_id)

    def judge(self, track: TrackVotes, vote: Vote, candidates: Sequence[Candidate], now: float, live_score: float | None = None, blink_depth: float | None = None) -> Verdict | None:
        """Add this frame's vote (and its liveness evidence) to the track; a verdict once the
        track is decided, else None. A winner whose track is not live is refused, never granted;
        one that is live but has not blinked yet waits, up to the liveness window."""
        if track.decided:
            return None
        track.started = now if track.started is None else track.started
        track.votes = (track.votes + [vote])[-self.rules.votes_window :]
        if live_score is not None:
            track.live_scores.append(live_score)
        if blink_depth is not None:
            track.blink_depth = max(track.blink_depth, blink_depth)
        best = candidates[0].similarity if candidates else None
        second = candidates[1].similarity if len(candidates) > 1 else None
        winner = self._winner(track.votes)
        if winner is not None:
            spoof, waiting = self._not_live(track, now)
            if waiting:
                return None  # matched and passively live: give the person the window to blink
            track.decided = True
            if spoof:
                return Verdict(Decision.DENIED_SPOOF, None, best, second, spoof, winner, track.liveness(self.rules.votes_window))
            if now - self._last_grant.get(winner, float("-inf")) < self.rules.cooldown_s:
                return None  # the same visit seen again: no second unlock, no second event
            self._last_grant[winner] = now
            return Verdict(Decision.GRANTED, winner, best, second, liveness=track.liveness(self.rules.votes_window))
        if len(track.votes) < self.rules.votes_window:
            return None
        track.decided = True
        return _denial(track.votes, candidates, best, second)

    def unfinished(self, track: TrackVotes) -> Verdict | None:
        """The row for a visit that ended undecided (the face left, or the track aged out): None
        when it was decided or never showed a usable face. Names whom it was leaning to."""
        if track.decided or all(v.kind == VoteKind.LOW_QUALITY for v in track.votes):
            return None
        counts = Counter(v.person_id for v in track.votes if v.kind == VoteKind.PERSON)
        leader = counts.most_common(1)[0][0] if counts else None
        if self._winner(track.votes) is not None and self.rules.blink is not None and track.blink_depth < self.rules.blink:
            detail = f"left before the liveness check ended (deepest blink {track.blink_depth:.2f}, needs {self.rules.blink:.2f})"
        else:
            usable = sum(v.kind != VoteKind.LOW_QUALITY for v in track.votes)
            detail = f"left after {usable} usable frame{'s' if usable != 1 else ''}: the same person must win {self.rules.votes_needed} of {self.rules.votes_window}"
        return Verdict(Decision.DENIED_INCOMPLETE, None, None, None, detail, leader)

    def _not_live(self, track: TrackVotes, now: float) -> tuple[str | None, bool]:
        """(why the track is not live, or None; whether it may still prove it by blinking)."""
        if self.rules.liveness is None:
            return None, False
        live = track.liveness(self.rules.votes_window)
        if live is None or live < self.rules.liveness:  # no score at all is no proof of life
            return f"liveness {'none' if live is None else f'{live:.3f}'} below {self.rules.liveness:.3f}: not a live face", False
        if self.rules.blink is None or track.blink_depth >= self.rules.blink:
            return None, False
        if track.started is None or now - track.started < self.rules.liveness_window_s:
            return None, True
        return f"no blink in {self.rules.liveness_window_s:g} s (deepest {track.blink_depth:.2f}, needs {self.rules.blink:.2f}): a still image?", False

    def _winner(self, votes: list[Vote]) -> str | None:
        counts = Counter(v.person_id for v in votes if v.kind == VoteKind.PERSON)
        winners = [p for p, n in counts.items() if n >= self.rules.votes_needed]
        return winners[0] if len(winners) == 1 else None  # two people at N each: a tie decides nothing


def _denial(votes: list[Vote], candidates: Sequence[Candidate], best: float | None, second: float | None) -> Verdict:
    nearest = candidates[0].person_id if candidates else None
    if sum(v.kind == VoteKind.LOW_QUALITY for v in votes) > len(votes) // 2:
        return Verdict(Decision.DENIED_QUALITY, None, best, second, "face quality too low to decide", nearest)
    if any(v.kind == VoteKind.AMBIGUOUS for v in votes):
        return Verdict(Decision.DENIED_AMBIGUOUS, nearest, best, second, "too close to a second enrolled person", nearest)
    return Verdict(Decision.DENIED_UNKNOWN, None, best, second, "nearest enrolled person below the threshold" if nearest else "", nearest)


def apply_tailgating(verdicts: list[Verdict], frame_votes: Sequence[Vote], rule: str) -> list[Verdict]:
    """``deny-all-if-unknown``: while any usable face in the frame matches nobody, no grant
    stands (a stranger walking in behind staff); ``each-face`` leaves the verdicts alone."""
    if rule != "deny-all-if-unknown" or not any(v.kind == VoteKind.UNKNOWN for v in frame_votes):
        return verdicts
    return [
        Verdict(Decision.DENIED_UNKNOWN, v.person_id, v.best, v.second, "tailgating policy: an unknown face is present") if v.decision == Decision.GRANTED else v
        for v in verdicts
    ]


def apply_access(verdicts: list[Verdict], policy: AccessPolicy, door_id: str, at: datetime) -> list[Verdict]:
    """After the match: a grant stands only if the access policy lets that person through this
    door at ``at``; otherwise ``denied-not-permitted`` with the policy's reason. An error in the
    policy raises, and the caller fails closed."""
    out = []
    for v in verdicts:
        if v.decision == Decision.GRANTED and v.person_id is not None:
            answer = policy.check(v.person_id, door_id, at)
            v = v if answer.permitted else replace(v, decision=Decision.DENIED_NOT_PERMITTED, detail=answer.detail())
        elif v.decision == Decision.GRANTED:  # a grant naming nobody cannot be checked: refuse it
            v = replace(v, decision=Decision.ERROR, detail="grant without a person: refused")
        out.append(v)
    return out


class UnknownThrottle:
    """At most one ``denied-unknown`` row per ``interval_s`` of the injected clock: a stranger
    loitering in view must not flood the log (every other decision is always written)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last = float("-inf")

    def due(self, now: float) -> bool:
        if now - self._last < self.interval_s:
            return False
        self._last = now
        return True
