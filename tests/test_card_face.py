"""Card + face: a badge names who claims to be at the door, and the face is checked against that
one person. Real LFW faces (identities the shipped model never trained on) at a replayed door;
the reader's badge numbers reach the daemon as the reader thread delivers them."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from gatekeeper.config import Settings
from gatekeeper.core import Decision
from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.door.claims import BadgeQueue, BadgeReader
from gatekeeper.services.audit import AuditFilter
from gatekeeper.vision.images import read_rgb
from tests.conftest import door_frame, lfw_people


@pytest.fixture
def site(lfw: Path, make_app, settings: Settings):  # type: ignore[no-untyped-def]
    """Three employees with badges 1001-1003 at a card + face door, and a stranger's photos."""
    gk = make_app(settings.model_copy(update={"door_mode": "card+face", "claim_ttl_s": 3.0}))
    staff = lfw_people(lfw, 3, 3, skip=120)
    for i, (name, photos) in enumerate(staff):
        assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
        gk.access.set_badge(name, f"100{i + 1}")
    (stranger, stranger_photos), = lfw_people(lfw, 1, 1, skip=1500)
    actuator = LogOnlyActuator()
    return gk, gk.daemon(actuator), actuator, staff, stranger_photos


def _approach(daemon, photo: Path, start: float, frames: int = 4) -> list:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(int(start * 10))
    image = read_rgb(photo)
    out = []
    for i in range(frames):
        out += daemon.process_frame(door_frame(image, rng), start + 0.1 * i)
    return out


def _decisions(gk) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    return [(r.decision, r.person_id) for r in gk.audit.query(AuditFilter(door_id="test-door"))]


def test_no_badge_no_decision_at_a_card_door(site) -> None:  # type: ignore[no-untyped-def]
    gk, daemon, actuator, staff, _ = site
    assert _approach(daemon, staff[0][1][1], 0.0) == []
    assert actuator.unlocks == [] and _decisions(gk) == []


def test_the_badge_holders_face_opens_the_door(site) -> None:  # type: ignore[no-untyped-def]
    gk, daemon, actuator, staff, _ = site
    name = staff[1][0]
    daemon.badges.put("1002")
    verdicts = _approach(daemon, staff[1][1][1], 0.0)  # another photo than the enrolled one
    assert [v.decision for v in verdicts] == [Decision.GRANTED]
    assert actuator.unlocks == [("test-door", name)]
    (row,) = gk.audit.query(AuditFilter(decision="granted"))
    assert row.person_id == name and row.threshold == pytest.approx(daemon.thresholds.card, abs=1e-6)


def test_a_stranger_with_someone_elses_badge_is_refused_as_a_mismatch(site) -> None:  # type: ignore[no-untyped-def]
    gk, daemon, actuator, staff, stranger_photos = site
    daemon.badges.put("1001")
    verdicts = _approach(daemon, stranger_photos[0], 0.0)
    assert [v.decision for v in verdicts] == [Decision.DENIED_MISMATCH]
    assert verdicts[0].person_id == staff[0][0] and "not its holder" in verdicts[0].detail
    assert actuator.unlocks == []
    (row,) = gk.audit.query(AuditFilter(decision="denied-mismatch"))
    assert row.person_id == staff[0][0] and row.best_similarity < daemon.thresholds.card


def test_an_employee_with_a_colleagues_badge_is_named_beside_the_holder(site) -> None:  # type: ignore[no-untyped-def]
    gk, daemon, actuator, staff, _ = site
    daemon.badges.put("1003")
    (verdict,) = _approach(daemon, staff[0][1][1], 0.0)
    assert verdict.decision == Decision.DENIED_MISMATCH
    assert (verdict.person_id, verdict.nearest) == (staff[2][0], staff[0][0])
    (row,) = gk.audit.query(AuditFilter(decision="denied-mismatch"))
    assert row.nearest_id == staff[0][0]
    assert actuator.unlocks == []


def test_unknown_unreadable_and_suspended_badges_are_refused_and_logged(site) -> None:  # type: ignore[no-untyped-def]
    gk, daemon, actuator, staff, _ = site
    gk.access.suspend(staff[0][0], True)
    daemon.refresh_gallery(force=True)
    for badge in ("9999", "1001", "12;rm -rf /"):
        daemon.badges.put(badge)
    assert _approach(daemon, staff[0][1][1], 0.0) == []  # no claim survives: the face decides nothing
    rows = gk.audit.query(AuditFilter(decision="denied-unknown-badge"))
    assert [r.detail for r in rows] == ["badge 9999 is not known", "badge 1001: its holder is suspended", "unreadable badge number from the reader"]
    assert actuator.unlocks == []


def test_a_claim_expires_and_one_decision_uses_it_up(site) -> None:  # type: ignore[no-untyped-def]
    gk, daemon, actuator, staff, _ = site
    daemon.badges.put("1002")
    daemon.process_frame(np.full((480, 640, 3), 110, np.uint8), 0.0)  # the badge is read; nobody at the camera
    daemon.process_frame(np.full((480, 640, 3), 110, np.uint8), 3.5)  # past claim_ttl_s
    assert _decisions(gk) == [("denied-claim-expired", staff[1][0])]
    assert _approach(daemon, staff[1][1][1], 4.0) == []  # the expired claim opens nothing
    daemon.badges.put("1002")
    assert [v.decision for v in _approach(daemon, staff[1][1][1], 10.0)] == [Decision.GRANTED]
    assert _approach(daemon, staff[1][1][1], 11.0) == []  # used up: a second pass needs a second badge
    assert actuator.unlocks == [("test-door", staff[1][0])]


def test_card_or_face_takes_the_face_alone_without_a_badge(lfw: Path, make_app, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    gk = make_app(settings.model_copy(update={"door_mode": "card-or-face"}))
    (name, photos), = lfw_people(lfw, 1, 3, skip=140)
    assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(p) for p in photos[:2]]).enrolled
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    assert [v.decision for v in _approach(daemon, photos[2], 0.0)] == [Decision.GRANTED]


def test_badges_are_unique_validated_and_audited(site) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.core.access import AccessPolicyError

    gk, _, _, staff, _ = site
    with pytest.raises(AccessPolicyError, match="already belongs to"):
        gk.access.set_badge(staff[1][0], "1001")
    with pytest.raises(AccessPolicyError, match="not valid"):
        gk.access.set_badge(staff[1][0], "12 34\x1b[2J")
    assert gk.access.person(staff[1][0]).badge == "1002"
    assert gk.access.remove_badge(staff[1][0]) and not gk.access.remove_badge(staff[1][0])
    changes = [r.detail for r in gk.audit.query(AuditFilter(decision="access-changed"))]
    assert changes.count("badge 1001 assigned") == 1 and "badge removed" in changes
    assert gk.audit.verify() == []


def test_the_badge_reader_delivers_lines_from_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "reader"
    os.mkfifo(fifo)
    badges, stop = BadgeQueue(), threading.Event()
    reader = BadgeReader(fifo, badges, stop)
    reader.start()
    with open(fifo, "w") as wedge:  # a keyboard-wedge reader's helper writing what it reads
        wedge.write("1001\n\n1002\n")
    got: list[str] = []
    for _ in range(50):
        got += badges.drain()
        if len(got) == 2:
            break
        stop.wait(0.05)
    stop.set()
    with open(fifo, "w"):
        pass  # let the reader's open() return so it sees the stop
    reader.join(timeout=2)
    assert got == ["1001", "1002"] and not reader.is_alive()


def test_a_stuck_reader_cannot_grow_the_queue() -> None:
    badges = BadgeQueue(size=4)
    for i in range(100):
        badges.put(str(i))
    assert badges.drain() == ["96", "97", "98", "99"]
