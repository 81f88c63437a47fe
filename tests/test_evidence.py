"""What the log keeps of each visit: a sealed snapshot of every grant (so a security admin can see
who really came in), and one row for every visit with a usable face, even one that left before
it could be decided. Real LFW faces at a replayed door, default settings."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np

from gatekeeper.core import Decision
from gatekeeper.core.policy import DoorPolicy, PolicyRules, TrackVotes
from gatekeeper.core.types import UNKNOWN, Vote
from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.audit import AuditFilter
from gatekeeper.vision.images import read_rgb
from tests.conftest import door_frame, lfw_people

EMPTY = np.full((480, 640, 3), 110, np.uint8)


def _frames(daemon, photo: Path, start: float, count: int, seed: int) -> list:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    image = read_rgb(photo)
    return [v for i in range(count) for v in daemon.process_frame(door_frame(image, rng), start + 0.1 * i)]


def test_every_grant_leaves_a_sealed_snapshot_by_default(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    assert gk.settings.snapshots == "grants"
    (name, photos), (_, stranger) = lfw_people(lfw, 2, 2, skip=600)
    assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    daemon = gk.daemon(LogOnlyActuator())
    assert Decision.GRANTED in [v.decision for v in _frames(daemon, photos[0], 0.0, 3, 1)]
    _frames(daemon, stranger[0], 10.0, 3, 2)
    granted, = gk.audit.query(AuditFilter(decision="granted"))
    assert granted.snapshot and granted.snapshot.endswith(".jpg.sealed")
    sealed = Path(granted.snapshot).read_bytes()
    assert b"\xff\xd8\xff" not in sealed[:64] and b"JFIF" not in sealed, "a face on disk in the clear"
    face = cv2.imdecode(np.frombuffer(gk.audit.snapshot_jpeg(granted.event_id, gk.codec), np.uint8), cv2.IMREAD_COLOR)
    assert face is not None and face.shape[0] >= 100
    assert all(r.snapshot is None for r in gk.audit.query(AuditFilter(decision="denied-unknown")))
    assert gk.forget(name).removed and not Path(granted.snapshot).exists()


def test_snapshot_files_older_than_the_retention_are_deleted(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    (name, photos), = lfw_people(lfw, 1, 2, skip=610)
    assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    daemon = gk.daemon(LogOnlyActuator())
    _frames(daemon, photos[0], 0.0, 3, 3)
    granted, = gk.audit.query(AuditFilter(decision="granted"))
    old = time.time() - (gk.settings.snapshot_retention_days + 1) * 86400
    os.utime(granted.snapshot, (old, old))
    daemon.expire_snapshots(force=True)
    assert daemon.side.drain() and not Path(granted.snapshot).exists()
    assert gk.audit.query(AuditFilter(decision="granted")) and gk.audit.verify() == []  # the row stays


def test_a_visit_that_leaves_undecided_still_leaves_a_row(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    """An enrolled person glimpsed for one frame, and a stranger for one frame: the door decides
    nothing (it needs 2 of 3 frames), but each visit ends in a `denied-incomplete` row saying
    what was missing, the enrolled one naming whom it was leaning to."""
    gk = make_app()
    (name, photos), (_, stranger) = lfw_people(lfw, 2, 2, skip=620)
    assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    daemon = gk.daemon(LogOnlyActuator())
    assert _frames(daemon, photos[1], 0.0, 1, 4) == []
    for i in range(30):  # an empty doorway: the visit ends after its gap
        daemon.process_frame(EMPTY, 0.2 + 0.1 * i)
    assert _frames(daemon, stranger[0], 10.0, 1, 5) == []
    for i in range(30):
        daemon.process_frame(EMPTY, 10.2 + 0.1 * i)
    rows = gk.audit.query(AuditFilter(decision="denied-incomplete"))
    assert [r.nearest_id for r in rows] == [name, None], [(r.nearest_id, r.detail) for r in rows]
    assert all("left after 1 usable frame" in (r.detail or "") for r in rows)


def test_a_replay_that_ends_mid_visit_records_it(lfw: Path, make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import threading

    from gatekeeper.door.camera import open_source

    gk = make_app()
    (name, photos), = lfw_people(lfw, 1, 2, skip=630)
    assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(6)
    cv2.imwrite(str(folder / "0001.png"), cv2.cvtColor(door_frame(read_rgb(photos[1]), rng), cv2.COLOR_RGB2BGR))
    gk.daemon(LogOnlyActuator()).run(open_source(str(folder)), threading.Event())
    (row,) = gk.audit.query(AuditFilter(decision="denied-incomplete"))
    assert row.nearest_id == name


def test_a_visit_waiting_for_its_blink_says_so() -> None:
    policy = DoorPolicy(PolicyRules(0.9, 0.01, 2, 3, 10.0, liveness=0.3, blink=0.2, liveness_window_s=4.0))
    track = TrackVotes()
    ada = Vote.person("ada")
    for t, vote in enumerate([ada, ada, UNKNOWN]):
        policy.judge(track, vote, [], float(t) * 0.1, live_score=0.9, blink_depth=0.1)
    verdict = policy.unfinished(track)
    assert verdict is not None and verdict.decision == Decision.DENIED_INCOMPLETE and verdict.nearest == "ada"
    assert "left before the liveness check ended (deepest blink 0.10, needs 0.20)" == verdict.detail
    assert policy.unfinished(TrackVotes(decided=True)) is None
