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
