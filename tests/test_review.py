"""The review queue, performed at a door: a refused face of an enrolled person is captured,
assigned to them, and the same visit is granted on a replay; a stranger marked "not this
person" stays refused even where a loose threshold would let them in as that person."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.errors import InputError
from gatekeeper.services.audit import AuditFilter
from gatekeeper.vision.images import read_rgb
from tests.conftest import door_frame, lfw_people


def visit(gk, photo: Path, daemon=None) -> list[str]:  # type: ignore[no-untyped-def]
    """Four door frames of ``photo`` (the same jitter every time); the door's verdicts."""
    daemon = daemon or gk.daemon(LogOnlyActuator())
    rng, image = np.random.default_rng(0), read_rgb(photo)
    verdicts = [str(v.decision) for i in range(4) for v in daemon.process_frame(door_frame(image, rng), i / 15)]
    assert daemon.side.drain(), "the capture was written"
    return verdicts


@pytest.fixture
def guevara(lfw: Path) -> list[Path]:
    (name, photos), = lfw_people(lfw, 1, 4, skip=12)
    assert name == "Ana_Guevara"  # her third photo is refused at the door from her first (found by search)
    return photos


def test_a_refused_employee_is_assigned_from_the_queue_and_granted_on_the_replay(make_app, guevara: list[Path]) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    assert gk.enrollment.enroll("emp-guevara", "Ana Guevara", [gk.enrollment.embed_photo(guevara[0])]).enrolled
    assert visit(gk, guevara[2]) == ["denied-unknown"], "before: refused"
    (capture,) = gk.review.pending()
    assert capture.decision == "denied-unknown" and capture.nearest_id == "emp-guevara" and capture.nearest_now[0].person_id == "emp-guevara"
    assert gk.review.face_jpeg(capture.capture_id)[:2] == b"\xff\xd8"
    result = gk.acting_as("console:alice").review.assign(capture.capture_id, "emp-guevara")
    assert result.enrolled and gk.review.pending() == []
    assert "granted" in visit(gk, guevara[2]), "after: the same visit is granted"
    row = [r for r in gk.audit.query(AuditFilter(decision="extended")) if r.person_id == "emp-guevara"][-1]
    assert row.actor == "console:alice"


def test_a_stranger_marked_not_this_person_is_never_granted_as_them(make_app, settings, guevara: list[Path], lfw: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (_, stranger), = lfw_people(lfw, 1, 4, skip=13)
    gk = make_app()
    assert gk.enrollment.enroll("emp-guevara", "Ana Guevara", [gk.enrollment.embed_photo(guevara[0])]).enrolled
    assert visit(gk, stranger[0]) == ["denied-unknown"]
    (capture,) = gk.review.pending()
    gk.review.not_this_person(capture.capture_id, "emp-guevara")
    assert [r.person_id for r in gk.audit.query(AuditFilter(decision="marked-not-person"))] == ["emp-guevara"]
    loose = {"min_match_similarity": 0.3, "accept_loose_threshold": True}
    assert "denied-unknown" in visit(make_app(settings.model_copy(update=loose)), stranger[0]), "a threshold anyone would pass: still refused"
    assert "granted" in visit(make_app(settings.model_copy(update=loose)), guevara[0]), "she herself still gets in"
    control = make_app(settings.model_copy(update={**loose, "data_dir": tmp_path / "control"}))
    assert control.enrollment.enroll("emp-guevara", "Ana Guevara", [control.enrollment.embed_photo(guevara[0])]).enrolled
    assert "granted" in visit(control, stranger[0]), "without the negative the loose door lets the stranger in as her"


def test_captures_expire_go_with_the_person_and_dismissals_are_audited(make_app, settings, guevara: list[Path], lfw: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta, timezone

    (_, stranger), = lfw_people(lfw, 1, 4, skip=13)
    gk = make_app()
    assert gk.enrollment.enroll("emp-guevara", "Ana Guevara", [gk.enrollment.embed_photo(guevara[0])]).enrolled
    visit(gk, stranger[0])
    visit(gk, stranger[1])
    first, *rest = sorted(c.capture_id for c in gk.review.pending())
    assert rest, "both visits were captured"
    gk.review.dismiss(first)
    assert [r.decision for r in gk.audit.query(AuditFilter(decision="capture-dismissed"))] == ["capture-dismissed"]
    with pytest.raises(InputError, match="no review capture"):
        gk.review.assign(first, "emp-guevara")
    assert gk.review.expire(datetime.now(timezone.utc) + timedelta(days=settings.review_retention_days - 1)) == 0
    visit(gk, stranger[2])
    assert len(gk.review.pending()) > len(rest)
    gk.forget("emp-guevara", anonymise=True, reason="left the company")
    assert gk.review.pending() == [], "captures naming her went with her"
    visit(gk, stranger[0])  # nobody enrolled now: a capture without a nearest person
    kept = len(gk.review.pending())
    assert kept >= 1 and gk.review.expire(datetime.now(timezone.utc) + timedelta(days=settings.review_retention_days, seconds=1)) == kept
