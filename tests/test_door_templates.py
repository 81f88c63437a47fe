"""Templates that fit the door: a confident grant's frame is offered as a template photo, an admin
accepts or dismisses it (or the door adds it itself, up to a cap), and door frames can never pull
a template away from the person's own enrollment photos. Real LFW faces at a replayed door."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gatekeeper.config import Settings
from gatekeeper.core import Decision
from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.audit import AuditFilter
from gatekeeper.services.door_templates import DOOR_SOURCE
from gatekeeper.services.people import find_person
from gatekeeper.vision.images import read_rgb
from tests.conftest import door_frame, lfw_people


def _visit(daemon, photo: Path, start: float) -> list:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(int(start))
    image = read_rgb(photo)
    return [v for i in range(3) for v in daemon.process_frame(door_frame(image, rng), start + 0.1 * i)]


@pytest.fixture
def person(lfw: Path) -> tuple[str, list[Path]]:
    (name, photos), = lfw_people(lfw, 1, 3, skip=160)
    return name, photos


def _site(make_app, settings: Settings, mode: str, person: tuple[str, list[Path]]):  # type: ignore[no-untyped-def]
    gk = make_app(settings.model_copy(update={"door_templates": mode, "door_templates_cap": 1, "cooldown_s": 0.0}))
    name, photos = person
    assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    return gk, gk.daemon(LogOnlyActuator())


def test_a_confident_grant_is_offered_and_an_admin_accepts_it(make_app, settings: Settings, person) -> None:  # type: ignore[no-untyped-def]
    gk, daemon = _site(make_app, settings, "review", person)
    name, photos = person
    assert [v.decision for v in _visit(daemon, photos[0], 0.0)] == [Decision.GRANTED]
    (candidate,) = gk.door_templates.pending(name)
    assert candidate.door_id == "test-door" and candidate.similarity >= daemon.thresholds.match + 0.02
    assert find_person(gk.sessions, name)[0].photos == 1  # nothing changes before an admin says so
    assert gk.door_templates.accept(candidate.candidate_id).enrolled
    _, photos_now = find_person(gk.sessions, name)
    assert [p.source.startswith(DOOR_SOURCE) for p in photos_now] == [False, True]
    assert gk.door_templates.pending() == []
    (extended,) = gk.audit.query(AuditFilter(decision="extended"))
    assert extended.person_id == name and gk.audit.verify() == []


def test_the_cap_holds_and_dismissals_are_audited(make_app, settings: Settings, person) -> None:  # type: ignore[no-untyped-def]
    gk, daemon = _site(make_app, settings, "auto", person)
    name, photos = person
    _visit(daemon, photos[0], 0.0)
    _, photos_now = find_person(gk.sessions, name)
    assert sum(p.source.startswith(DOOR_SOURCE) for p in photos_now) == 1  # auto: added at once
    daemon.refresh_gallery(force=True)
    _visit(daemon, photos[0], 30.0)  # granted again: the cap (1) is reached, nothing more is kept
    assert gk.door_templates.pending() == [] and find_person(gk.sessions, name)[0].photos == 2
    gk2 = make_app(gk.settings.model_copy(update={"door_templates": "review", "door_templates_cap": 3}))
    daemon2 = gk2.daemon(LogOnlyActuator())
    _visit(daemon2, photos[0], 60.0)
    (candidate,) = gk2.door_templates.pending(name)
    assert gk2.door_templates.dismiss(candidate.candidate_id) and not gk2.door_templates.dismiss(candidate.candidate_id)
    assert [r.person_id for r in gk2.audit.query(AuditFilter(decision="candidate-dismissed"))] == [name]


def test_a_frame_unlike_the_persons_own_photos_is_never_kept(lfw: Path, make_app, settings: Settings, person) -> None:  # type: ignore[no-untyped-def]
    """Door frames cannot drift a template: a candidate must match the enrollment photos themselves."""
    gk, _ = _site(make_app, settings, "review", person)
    name, _ = person
    (other, other_photos), = lfw_people(lfw, 1, 1, skip=1700)
    stranger = gk.enrollment.embed_photo(other_photos[0])
    keepsake = np.zeros((272, 272, 3), np.uint8)
    assert gk.door_templates.offer(name, "test-door", stranger.embedding, keepsake, 0.99, {}, 0.93) is None
    assert gk.door_templates.pending() == []


def test_off_keeps_no_faces_and_removal_takes_candidates_along(make_app, settings: Settings, person) -> None:  # type: ignore[no-untyped-def]
    gk, daemon = _site(make_app, settings, "off", person)
    name, photos = person
    assert [v.decision for v in _visit(daemon, photos[0], 0.0)] == [Decision.GRANTED]
    assert gk.door_templates.pending() == []
    gk2, daemon2 = make_app(gk.settings.model_copy(update={"door_templates": "review"})), None
    daemon2 = gk2.daemon(LogOnlyActuator())
    _visit(daemon2, photos[0], 30.0)
    assert len(gk2.door_templates.pending(name)) == 1
    assert gk2.forget(name).removed
    assert gk2.door_templates.pending() == []
