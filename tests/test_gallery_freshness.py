"""The attack from issue #11: remove a person while the index file cannot be written. The daemon's
gallery reload then fails; it must refuse everyone rather than keep admitting the removed person."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gatekeeper.actuate import LogOnlyActuator
from gatekeeper.audit import AuditFilter
from gatekeeper.decide import Decision
from gatekeeper.images import read_rgb
from tests.conftest import door_frame, lfw_people


def test_removed_person_is_not_admitted_when_the_reload_fails(lfw: Path, make_app, settings) -> None:  # type: ignore[no-untyped-def]
    (name, photos), = lfw_people(lfw, 1, 3, skip=390)
    admin = make_app()
    assert admin.enrollment.enroll(name, name, [admin.enrollment.embed_photo(photos[0])]).enrolled
    actuator = LogOnlyActuator()
    daemon = make_app().daemon(actuator)
    rng = np.random.default_rng(5)
    image = read_rgb(photos[0])  # the enrolled photo, re-framed: this test is about freshness, not accuracy

    def visit(start: float) -> list[Decision]:
        return [v.decision for i in range(3) for v in daemon.process_frame(door_frame(image, rng), start + 0.1 * i)]

    assert Decision.GRANTED in visit(0.0)
    blocker = settings.index_path.with_name(settings.index_path.name + ".tmp")
    blocker.mkdir()  # the attacker's trick: every index save now fails
    try:
        admin.enrollment.remove(name)
    except OSError:
        pass  # the removal is committed; only the index file could not follow
    daemon.refresh_gallery(force=True)
    assert visit(100.0) == [Decision.ERROR] * 3, "a failed reload must close the door to everyone"
    assert actuator.unlocks == [(settings.door_id, name)], "no unlock after the removal"
    blocker.rmdir()
    daemon.refresh_gallery(force=True)
    assert Decision.GRANTED not in visit(200.0) and Decision.ERROR not in visit(300.0)
    assert any("gallery refresh failed" in (r.detail or "") for r in admin.audit.query(AuditFilter()))
