"""A model change does not strand the gallery: enroll under v1, migrate to v2, staff are granted;
a door on another model than its gallery refuses to run, naming the command that fixes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet

from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.audit import AuditFilter
from gatekeeper.core import Decision
from gatekeeper.match.gallery import GalleryModelMismatch
from gatekeeper.vision.images import read_rgb
from gatekeeper.storage.models import Photo
from tests.conftest import door_frame, lfw_people


@pytest.fixture
def keyed_settings(settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    key = tmp_path / "template.key"
    key.write_bytes(Fernet.generate_key())
    return settings.model_copy(update={"template_key_file": key})


def test_enroll_under_v1_then_migrate_to_v2_grants_staff(lfw: Path, keyed_settings, encoder) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.app import App
    from gatekeeper.services.migration import migrate_gallery

    staff = lfw_people(lfw, 5, 3, skip=300)
    old = App(keyed_settings.model_copy(update={"model": "doornet-v1"}))
    for name, photos in staff:
        assert old.enrollment.enroll(name, name, [old.enrollment.embed_photo(p) for p in photos[:2]]).enrolled
    with old.sessions() as s:
        crops = [p.face_crop for p in s.query(Photo)]
    assert crops and all(c is not None and c.startswith(b"GKe1") for c in crops), "face crops are sealed at rest"

    new = App(keyed_settings, encoder=encoder)
    with pytest.raises(GalleryModelMismatch, match="gatekeeper migrate"):
        new.daemon(LogOnlyActuator())
    report = migrate_gallery(new.enrollment)
    assert report.complete and sorted(report.migrated) == sorted(n for n, _ in staff)

    actuator = LogOnlyActuator()
    daemon = new.daemon(actuator)
    rng = np.random.default_rng(3)
    for i, (name, photos) in enumerate(staff):
        image = read_rgb(photos[2])  # a photo that was never enrolled
        for j in range(3):
            daemon.process_frame(door_frame(image, rng), 10.0 * i + 0.1 * j)
    assert sorted(p for _, p in actuator.unlocks) == sorted(n for n, _ in staff)
    assert all(r.decision != Decision.ERROR for r in new.audit.query(AuditFilter()))
    (migrated,) = new.audit.query(AuditFilter(decision=Decision.MIGRATED))
    assert migrated.actor and migrated.model_version == encoder.version and "5 people" in (migrated.detail or "")


def test_migration_without_face_crops_changes_nothing(lfw: Path, settings, encoder) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.app import App
    from gatekeeper.services.migration import migrate_gallery
    from gatekeeper.storage.database import gallery_generation

    (name, photos), = lfw_people(lfw, 1, 3, skip=310)
    old = App(settings.model_copy(update={"model": "doornet-v1"}))
    assert old.enrollment.enroll(name, name, [old.enrollment.embed_photo(p) for p in photos]).enrolled
    with old.sessions.begin() as s:
        for photo in s.query(Photo):
            photo.face_crop = None  # as if enrolled before crops were kept
    new = App(settings, encoder=encoder)
    with new.sessions() as s:
        before = gallery_generation(s)
    report = migrate_gallery(new.enrollment)
    assert report.without_crops == [name] and not report.migrated
    with new.sessions() as s:
        assert gallery_generation(s) == before
