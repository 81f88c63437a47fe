"""The door policy by tables: threshold, margin, N of M, cooldown, quality, tailgating, throttling.

Pure functions of their inputs and an injected clock: no camera, model or database here."""

from __future__ import annotations

import pytest

from gatekeeper.core import Candidate, Decision, DoorPolicy, UnknownThrottle, Verdict, Vote, VoteKind, apply_tailgating
from gatekeeper.core.policy import PolicyRules, TrackVotes
from gatekeeper.core.types import AMBIGUOUS, LOW_QUALITY, UNKNOWN

RULES = PolicyRules(match=0.94, margin=0.02, votes_needed=2, votes_window=3, cooldown_s=10.0)


def _c(*pairs: tuple[str, float]) -> list[Candidate]:
    return [Candidate(p, s) for p, s in pairs]


@pytest.mark.parametrize(
    ("candidates", "usable", "expected"),
    [
        (_c(("ada", 0.97), ("bob", 0.90)), True, Vote.person("ada")),  # clear winner
        (_c(("ada", 0.9399), ("bob", 0.5)), True, UNKNOWN),  # just under the threshold
        (_c(("ada", 0.94), ("bob", 0.5)), True, Vote.person("ada")),  # exactly at it: granted side
        (_c(("ada", 0.97), ("bob", 0.955)), True, AMBIGUOUS),  # above, but within the margin
        (_c(("ada", 0.97), ("bob", 0.95)), True, Vote.person("ada")),  # margin exactly met
        (_c(("ada", 0.97)), True, Vote.person("ada")),  # a gallery of one: no runner-up
        ([], True, UNKNOWN),  # an empty gallery
        (_c(("ada", 0.99), ("bob", 0.1)), False, LOW_QUALITY),  # failed the quality gate
    ],
)
def test_frame_vote(candidates: list[Candidate], usable: bool, expected: Vote) -> None:
    assert DoorPolicy(RULES).frame_vote(candidates, usable) == expected


ADA, BOB = Vote.person("ada"), Vote.person("bob")


@pytest.mark.parametrize(
    ("votes", "decision", "person", "after_frames"),
    [
        ([ADA, ADA], Decision.GRANTED, "ada", 2),  # 2 of 3 reached early: decided at frame 2
        ([ADA, UNKNOWN, ADA], Decision.GRANTED, "ada", 3),
        ([ADA, UNKNOWN, UNKNOWN], Decision.DENIED_UNKNOWN, None, 3),  # 1 of 3 is not enough
        ([ADA, BOB, UNKNOWN], Decision.DENIED_UNKNOWN, None, 3),  # two people, neither twice
        ([AMBIGUOUS, ADA, UNKNOWN], Decision.DENIED_AMBIGUOUS, "ada", 3),  # a lookalike was in play
        ([LOW_QUALITY, LOW_QUALITY, UNKNOWN], Decision.DENIED_QUALITY, None, 3),  # mostly unusable
        ([LOW_QUALITY, UNKNOWN, UNKNOWN], Decision.DENIED_UNKNOWN, None, 3),
    ],
)
def test_n_of_m_on_a_track(votes: list[Vote], decision: Decision, person: str | None, after_frames: int) -> None:
    policy, track = DoorPolicy(RULES), TrackVotes()
    candidates = _c(("ada", 0.96), ("bob", 0.93))
    verdicts = [policy.judge(track, v, candidates, now=0.1 * i) for i, v in enumerate(votes)]
    decided = [i for i, v in enumerate(verdicts) if v is not None]
    assert decided == [after_frames - 1], verdicts
    verdict = verdicts[after_frames - 1]
    assert verdict is not None and (verdict.decision, verdict.person_id) == (decision, person)
    assert verdict.best == 0.96 and verdict.second == 0.93
    assert policy.judge(track, ADA, candidates, now=1.0) is None, "a decided track decides nothing more"


def test_a_tie_between_two_people_decides_nothing() -> None:
    policy = DoorPolicy(PolicyRules(0.94, 0.02, votes_needed=1, votes_window=2, cooldown_s=0))
    track = TrackVotes()
    assert policy.judge(track, ADA, [], 0.0) is not None  # one vote suffices: granted at once
    tie = TrackVotes(votes=[ADA])
    assert policy.judge(tie, BOB, [], 0.1) == Verdict(Decision.DENIED_UNKNOWN, None, None, None)


@pytest.mark.parametrize(("second_visit_at", "granted_again"), [(5.0, False), (10.05, False), (10.1, True), (60.0, True)])  # first grant at t=0.1
def test_cooldown_one_grant_per_person(second_visit_at: float, granted_again: bool) -> None:
    policy = DoorPolicy(RULES)
    first = TrackVotes()
    assert [policy.judge(first, ADA, [], t) for t in (0.0, 0.1)][1] is not None
    again = TrackVotes()
    verdicts = [policy.judge(again, ADA, [], second_visit_at + d) for d in (0.0, 0.0)]
    assert (verdicts[1] is not None) == granted_again
    assert again.decided, "the track is decided either way: one visit, one event"


GRANT = Verdict(Decision.GRANTED, "ada", 0.97, 0.9)
DENY = Verdict(Decision.DENIED_UNKNOWN, None, 0.5, 0.4)


@pytest.mark.parametrize(
    ("rule", "frame_votes", "expected"),
    [
        ("each-face", [ADA, UNKNOWN], [Decision.GRANTED, Decision.DENIED_UNKNOWN]),
        ("deny-all-if-unknown", [ADA, UNKNOWN], [Decision.DENIED_UNKNOWN, Decision.DENIED_UNKNOWN]),
        ("deny-all-if-unknown", [ADA, LOW_QUALITY], [Decision.GRANTED, Decision.DENIED_UNKNOWN]),  # unusable is not "unknown"
        ("deny-all-if-unknown", [ADA, AMBIGUOUS], [Decision.GRANTED, Decision.DENIED_UNKNOWN]),
    ],
)
def test_tailgating(rule: str, frame_votes: list[Vote], expected: list[Decision]) -> None:
    out = apply_tailgating([GRANT, DENY], frame_votes, rule)
    assert [v.decision for v in out] == expected
    if expected[0] == Decision.DENIED_UNKNOWN:
        assert out[0].person_id == "ada" and "tailgating" in out[0].detail


@pytest.mark.parametrize(("interval", "times", "expected"), [
    (5.0, [0.0, 1.0, 4.99, 5.0, 9.0, 10.0], [True, False, False, True, False, True]),
    (0.0, [0.0, 0.0, 0.1], [True, True, True]),
])
def test_unknown_rows_are_throttled_on_the_injected_clock(interval: float, times: list[float], expected: list[bool]) -> None:
    throttle = UnknownThrottle(interval)
    assert [throttle.due(t) for t in times] == expected


def test_vote_kinds_are_typed_values_not_sentinels() -> None:
    assert {v.kind for v in (ADA, UNKNOWN, AMBIGUOUS, LOW_QUALITY)} == set(VoteKind)
    assert ADA.person_id == "ada" and UNKNOWN.person_id is None
    assert Decision("anonymised") is Decision.ANONYMISED and Decision("purged") is Decision.PURGED


def test_the_core_imports_no_model_database_or_index_library() -> None:
    import subprocess
    import sys

    code = "import sys, gatekeeper.core; heavy = [m for m in ('numpy', 'torch', 'faiss', 'sqlalchemy', 'cv2') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


LIVE_RULES = PolicyRules(0.94, 0.02, votes_needed=2, votes_window=3, cooldown_s=10.0, liveness=0.5)


@pytest.mark.parametrize(
    ("scores", "decision", "why"),
    [
        ([0.9, 0.8], Decision.GRANTED, "a live track is let in"),
        ([0.01, 0.02], Decision.DENIED_SPOOF, "a printed photo of ada matches her, and is refused"),
        ([0.6, 0.3], Decision.DENIED_SPOOF, "mean 0.45 is below 0.5"),
        ([0.3, 0.9], Decision.GRANTED, "the track's mean, 0.6, not its last frame"),
        ([None, None], Decision.DENIED_SPOOF, "no score at all is no proof of life"),
    ],
)
def test_a_winner_is_granted_only_when_the_track_is_live(scores: list[float | None], decision: Decision, why: str) -> None:
    policy, track = DoorPolicy(LIVE_RULES), TrackVotes()
    candidates = _c(("ada", 0.96), ("bob", 0.5))
    verdicts = [policy.judge(track, ADA, candidates, now=0.1 * i, live_score=s) for i, s in enumerate(scores)]
    verdict = verdicts[-1]
    assert verdict is not None and verdict.decision == decision, why
    if decision == Decision.DENIED_SPOOF:
        assert verdict.person_id is None and verdict.nearest == "ada" and "not a live face" in verdict.detail


def test_liveness_off_grants_on_the_match_alone() -> None:
    policy, track = DoorPolicy(RULES), TrackVotes()
    verdicts = [policy.judge(track, ADA, _c(("ada", 0.96)), now=0.1 * i, live_score=0.0) for i in range(2)]
    assert verdicts[-1] is not None and verdicts[-1].decision == Decision.GRANTED


def test_strangers_are_refused_as_unknown_whatever_their_liveness() -> None:
    policy, track = DoorPolicy(LIVE_RULES), TrackVotes()
    verdicts = [policy.judge(track, UNKNOWN, _c(("ada", 0.5)), now=0.1 * i, live_score=0.01) for i in range(3)]
    assert verdicts[-1] is not None and verdicts[-1].decision == Decision.DENIED_UNKNOWN


BLINK_RULES = PolicyRules(0.94, 0.02, votes_needed=2, votes_window=3, cooldown_s=10.0, liveness=0.5, blink=0.2, liveness_window_s=1.0)


@pytest.mark.parametrize(
    ("blinks", "decision", "decided_at", "why"),
    [
        ([0.0, 0.3], Decision.GRANTED, 1, "matched, live, and blinked: in at once"),
        ([0.0, 0.0, 0.0, 0.25, 0.0], Decision.GRANTED, 3, "waits for the blink inside the window"),
        ([0.0] * 12, Decision.DENIED_SPOOF, 10, "a still image never blinks: refused when the window ends"),
        ([0.1] * 12, Decision.DENIED_SPOOF, 10, "a twitch is not a blink"),
    ],
)
def test_a_live_track_must_blink_within_the_window(blinks: list[float], decision: Decision, decided_at: int, why: str) -> None:
    policy, track = DoorPolicy(BLINK_RULES), TrackVotes()
    verdicts = [policy.judge(track, ADA, _c(("ada", 0.96), ("bob", 0.5)), now=0.1 * i, live_score=0.9, blink_depth=b) for i, b in enumerate(blinks)]
    decided = [i for i, v in enumerate(verdicts) if v is not None]
    assert decided == [decided_at], (why, verdicts)
    assert verdicts[decided_at].decision == decision, why
    if decision == Decision.DENIED_SPOOF:
        assert "no blink" in verdicts[decided_at].detail and verdicts[decided_at].nearest == "ada"


def test_a_printed_photo_is_refused_at_once_without_waiting_for_a_blink() -> None:
    policy, track = DoorPolicy(BLINK_RULES), TrackVotes()
    verdicts = [policy.judge(track, ADA, _c(("ada", 0.96)), now=0.1 * i, live_score=0.01, blink_depth=0.0) for i in range(2)]
    assert verdicts[1] is not None and verdicts[1].decision == Decision.DENIED_SPOOF and "not a live face" in verdicts[1].detail
