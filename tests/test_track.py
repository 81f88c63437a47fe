"""The door tracker follows people, not places: appearance, gaps and age end a visit."""

from __future__ import annotations

import numpy as np
import pytest

from gatekeeper.door.track import FaceTracker

BOX = np.array([100.0, 100.0, 250.0, 250.0])
NEAR = BOX + 6.0  # the same spot a frame later


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


A, B = _unit(1), _unit(2)  # two people: cosine ~0
A_AGAIN = (A + 0.05 * _unit(3)) / np.linalg.norm(A + 0.05 * _unit(3))  # A in the next frame: cosine ~0.999


@pytest.mark.parametrize(
    ("second_face", "second_at", "same_track", "why"),
    [
        ((NEAR, A_AGAIN), 0.07, True, "same face, same spot"),
        ((NEAR, B), 0.07, False, "someone else stepped into the spot"),
        ((NEAR, None), 0.07, True, "an unusable face cannot prove it is someone else"),
        ((BOX + 300.0, A_AGAIN), 0.07, False, "no overlap: another place"),
        ((NEAR, A_AGAIN), 2.0, False, "after a gap with no face"),
    ],
)
def test_track_continuity(second_face: tuple[np.ndarray, np.ndarray | None], second_at: float, same_track: bool, why: str) -> None:
    tracker = FaceTracker(same_person=0.9)
    (first,) = tracker.update([(BOX, A)], now=0.0)
    (second,) = tracker.update([second_face], now=second_at)
    assert (second.track_id == first.track_id) is same_track, why


def test_a_track_ends_at_its_maximum_age_so_someone_who_stays_is_decided_again() -> None:
    tracker = FaceTracker(same_person=0.9, max_age_s=5.0)
    ids = {tracker.update([(BOX, A)], now=t / 10)[0].track_id for t in range(0, 80)}
    assert len(ids) == 2


def test_the_replaced_visit_is_over() -> None:
    tracker = FaceTracker(same_person=0.9)
    (a,) = tracker.update([(BOX, A)], now=0.0)
    tracker.update([(NEAR, B)], now=0.07)
    assert a.track_id not in tracker.tracks, "A's visit ended when B took the spot"


def test_continuing_names_the_visit_a_box_would_join_without_changing_any() -> None:
    """What the door's liveness plan reads before the embedding is in: position alone, no side effects."""
    tracker = FaceTracker(same_person=0.5)
    (first,) = tracker.update([(BOX, A)], 0.0)
    assert tracker.continuing([NEAR, BOX + 300.0], 0.07) == [first, None]
    assert tracker.continuing([NEAR, NEAR + 2.0], 0.07) == [first, None], "one visit continues in one face only"
    assert tracker.continuing([NEAR], 2.0) == [None], "after a gap the visit is over"
    assert list(tracker.tracks) == [first.track_id] and first.last_seen == 0.0
