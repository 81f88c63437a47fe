"""Issue #13 item 6: what admins do is in the same keyed chain as what the door does, naming who
did it; denials name the nearest enrolled person and both scores; anonymisation clears them all."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
from sqlalchemy import update

from gatekeeper.core.types import Decision
from gatekeeper.demo import astronaut, grace_hopper
from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.audit import ADMIN_DOOR, AuditFilter
from gatekeeper.services.enrollment import embed_image
from gatekeeper.services.privacy import anonymise_person, purge_audit
from gatekeeper.storage.models import AuditEvent
from gatekeeper.core.types import Verdict
from gatekeeper.services.audit import Reading


def _frame(face: np.ndarray) -> np.ndarray:
    frame = np.full((480, 640, 3), 110, np.uint8)
    person = cv2.resize(face, (300, 330))
    frame[75:405, 170:470] = person
    return frame


def test_every_admin_change_is_a_row_naming_who_did_it(make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    eileen = embed_image(gk.pipeline, astronaut(), "portrait")
    mirrored = embed_image(gk.pipeline, np.ascontiguousarray(astronaut()[:, ::-1]), "mirrored")
    assert gk.enrollment.enroll("emp-1", "Eileen Collins", [eileen]).enrolled
    assert gk.enrollment.enroll("emp-1", None, [mirrored], extend=True).enrolled
    assert gk.enrollment.rename("emp-1", "Eileen M. Collins")
    assert gk.forget("emp-1").removed
    admin = gk.audit.query(AuditFilter(door_id=ADMIN_DOOR))
    assert [r.decision for r in admin] == [Decision.ENROLLED, Decision.EXTENDED, Decision.RENAMED, Decision.REMOVED]
    assert all(r.person_id == "emp-1" and r.actor == getpass.getuser() for r in admin)
    assert all("Eileen" not in (r.detail or "") for r in admin), "names stay out of the text anonymisation cannot clear"
    assert gk.audit.verify() == []


def test_a_refused_enrollment_leaves_no_admin_row(make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    face = embed_image(gk.pipeline, astronaut(), "portrait")
    assert gk.enrollment.enroll("emp-1", "Eileen", [face]).enrolled
    assert not gk.enrollment.enroll("emp-2", "Someone else", [face]).enrolled  # the same face: refused
    assert [r.person_id for r in gk.audit.query(AuditFilter(door_id=ADMIN_DOOR))] == ["emp-1"]


def test_attack_rewriting_who_did_it_is_detected(make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    assert gk.enrollment.enroll("emp-1", "Eileen", [embed_image(gk.pipeline, astronaut(), "portrait")]).enrolled
    with gk.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.decision == Decision.ENROLLED).values(actor="someone-else"))
    problems = gk.audit.verify()
    assert problems and "event 1" in problems[0]


def test_a_denial_names_the_nearest_enrolled_person_and_anonymisation_clears_it(make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    assert gk.enrollment.enroll("emp-1", "Eileen", [embed_image(gk.pipeline, astronaut(), "portrait")]).enrolled
    daemon = gk.daemon(LogOnlyActuator())
    for t in range(3):
        daemon.process_frame(_frame(grace_hopper()), 0.1 * t)
    (denied,) = gk.audit.query(AuditFilter(decision=Decision.DENIED_UNKNOWN))
    assert denied.person_id is None and denied.nearest_id == "emp-1", "who is being refused, and by how much, can be read from the log"
    assert [r.event_id for r in gk.audit.query(AuditFilter(nearest_id="emp-1"))] == [denied.event_id]
    in_force = daemon.thresholds.match  # the threshold for this gallery's size (one person)
    assert denied.best_similarity is not None and denied.best_similarity < in_force and denied.threshold == round(in_force, 6)
    report = anonymise_person(gk.audit, "emp-1", "request 7")
    assert report.audit_rows_anonymised == 2  # the enrollment row and the denial
    assert not gk.audit.query(AuditFilter(person_id="emp-1")) and not gk.audit.query(AuditFilter(nearest_id="emp-1"))
    (anonymised,) = gk.audit.query(AuditFilter(decision=Decision.ANONYMISED))
    assert anonymised.actor == getpass.getuser()
    assert gk.audit.verify() == []


def test_retention_purge_is_recorded_with_its_actor(make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    gk.audit.record("front", Verdict(Decision.GRANTED, "emp-1", None, None), at=datetime.now(timezone.utc) - timedelta(days=400))
    rows, _, _ = purge_audit(gk.audit, datetime.now(timezone.utc) - timedelta(days=365), actor="console:dana")
    assert rows == 1
    (purged,) = gk.audit.query(AuditFilter(decision=Decision.PURGED))
    assert purged.actor == "console:dana"
    assert gk.audit.verify() == []


def test_attack_pinning_a_refusal_on_someone_else_is_detected(make_app) -> None:  # type: ignore[no-untyped-def]
    """The nearest person is covered by the row's digest: rewriting it is named by `audit verify`."""
    gk = make_app()
    gk.audit.record("front", Verdict(Decision.DENIED_UNKNOWN, None, 0.91, 0.5, nearest="emp-1"), Reading(threshold=0.94))
    with gk.sessions.begin() as s:
        s.execute(update(AuditEvent).where(AuditEvent.event_id == 1).values(nearest_id="emp-2"))
    problems = gk.audit.verify()
    assert problems and "event 1" in problems[0]
