"""Attacks from issue #11 on the gallery a door serves: a removal the index file cannot follow, a
database the door cannot read, a wrong template key, a forged index file, and templates left in
the clear on disk. Each is performed here and must fail to get anyone in."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.audit import AuditFilter
from gatekeeper.core import Decision
from gatekeeper.match.gallery import GalleryIndex
from gatekeeper.vision.images import read_rgb
from gatekeeper.storage.models import Meta, Person, Photo
from gatekeeper.storage.templates import TemplateKeyError
from tests.conftest import door_frame, lfw_people


def _visitor(daemon, photo: Path, seed: int):  # type: ignore[no-untyped-def]
    image, rng = read_rgb(photo), np.random.default_rng(seed)

    def visit(start: float) -> list[Decision]:
        return [v.decision for i in range(3) for v in daemon.process_frame(door_frame(image, rng), start + 0.1 * i)]

    return visit


def test_removal_the_index_file_cannot_follow_still_locks_the_person_out(lfw: Path, make_app, settings) -> None:  # type: ignore[no-untyped-def]
    (name, photos), = lfw_people(lfw, 1, 3, skip=390)
    admin = make_app()
    assert admin.enrollment.enroll(name, name, [admin.enrollment.embed_photo(photos[0])]).enrolled
    actuator = LogOnlyActuator()
    daemon = make_app().daemon(actuator)
    visit = _visitor(daemon, photos[0], 5)  # the enrolled photo, re-framed: this is about freshness
    assert Decision.GRANTED in visit(0.0)
    settings.index_path.unlink()
    settings.index_path.mkdir()  # the attacker's trick: every index save now fails
    assert admin.enrollment.remove(name)  # committed; the admin is told the file lagged
    assert admin.enrollment.index_warning and "could not be written" in admin.enrollment.index_warning
    daemon.refresh_gallery(force=True)  # rebuilt from the database, in memory
    assert Decision.GRANTED not in visit(100.0) + visit(200.0)
    assert actuator.unlocks == [(settings.door_id, name)], "no unlock after the removal"


def test_a_door_that_cannot_read_the_database_refuses_everyone(lfw: Path, make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (name, photos), = lfw_people(lfw, 1, 3, skip=390)
    admin = make_app()
    assert admin.enrollment.enroll(name, name, [admin.enrollment.embed_photo(photos[0])]).enrolled
    actuator = LogOnlyActuator()
    daemon = make_app().daemon(actuator)
    visit = _visitor(daemon, photos[0], 6)
    assert Decision.GRANTED in visit(0.0)
    admin.enrollment.remove(name)
    working = daemon.sessions
    daemon.sessions = sessionmaker(create_engine(f"sqlite:///{tmp_path / 'gone' / 'x.db'}"))  # the database is unreachable
    daemon.refresh_gallery(force=True)
    assert visit(100.0) == [Decision.ERROR] * 3, "a gallery not known to be current must close the door to everyone"
    daemon.sessions = working
    daemon.refresh_gallery(force=True)
    assert Decision.GRANTED not in visit(200.0) and Decision.ERROR not in visit(300.0)
    assert actuator.unlocks == [(settings.door_id, name)]
    assert any("gallery refresh failed" in (r.detail or "") for r in admin.audit.query(AuditFilter()))


def test_a_wrong_template_key_is_refused_before_anything_is_written(lfw: Path, make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (name, photos), (other, other_photos) = lfw_people(lfw, 2, 2, skip=60)
    key, wrong = tmp_path / "right.key", tmp_path / "wrong.key"
    key.write_bytes(Fernet.generate_key())
    wrong.write_bytes(Fernet.generate_key())
    admin = make_app(settings.model_copy(update={"template_key_file": key}))
    assert admin.enrollment.enroll(name, name, [admin.enrollment.embed_photo(photos[0])]).enrolled
    index_before = settings.index_path.read_bytes()
    for bad in (settings.model_copy(update={"template_key_file": wrong}), settings):  # wrong key, then no key
        intruder = make_app(bad)
        with pytest.raises(TemplateKeyError):
            intruder.enrollment.enroll(other, other, [intruder.enrollment.embed_photo(other_photos[0])])
        with pytest.raises(TemplateKeyError):
            intruder.daemon(LogOnlyActuator())
    with admin.sessions() as s:
        assert s.execute(select(func.count()).select_from(Person)).scalar_one() == 1
    assert settings.index_path.read_bytes() == index_before


def _attackers_index(lfw: Path, make_app):  # type: ignore[no-untyped-def]
    """A victim enrolled; an index mapping the attacker's own face to the victim's id, stamped
    with the database's current generation and model. Returns (admin app, forged index, the
    victim's photos, the attacker's photos)."""
    (victim, victim_photos), (_, attacker_photos) = lfw_people(lfw, 2, 2, skip=70)
    admin = make_app()
    assert admin.enrollment.enroll(victim, victim, [admin.enrollment.embed_photo(victim_photos[0])]).enrolled
    mine = admin.enrollment.embed_photo(attacker_photos[0]).embedding
    genuine = admin.gallery()
    forged = GalleryIndex.build(mine[None], np.array([next(iter(genuine.people))]), [victim], mine.shape[0], genuine.generation, genuine.model_version)
    return admin, forged, victim_photos, attacker_photos


def test_a_forged_index_file_is_never_served(lfw: Path, make_app, settings) -> None:  # type: ignore[no-untyped-def]
    """The attacker can write gallery.faiss only: they put their own embedding under the victim's
    id, stamped with the database's current generation and model, in the file's old plain format."""
    admin, forged, victim_photos, attacker_photos = _attackers_index(lfw, make_app)
    import faiss

    buf = io.BytesIO()
    stamp = {"generation": forged.generation, "model_version": forged.model_version, "people": {str(k): v for k, v in forged.people.items()}}
    np.savez(buf, index=faiss.serialize_index(forged.index), stamp=np.frombuffer(json.dumps(stamp).encode(), dtype=np.uint8))
    settings.index_path.write_bytes(buf.getvalue())
    actuator = LogOnlyActuator()
    daemon = make_app().daemon(actuator)
    assert Decision.GRANTED not in _visitor(daemon, attacker_photos[0], 7)(0.0)
    assert actuator.unlocks == []
    assert Decision.GRANTED in _visitor(daemon, victim_photos[0], 8)(100.0)  # the real gallery is served


def test_with_a_key_nothing_on_disk_holds_a_template_or_face_in_the_clear(lfw: Path, make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (name, photos), = lfw_people(lfw, 1, 2, skip=80)
    key = tmp_path / "template.key"
    key.write_bytes(Fernet.generate_key())
    keyed = settings.model_copy(update={"template_key_file": key, "snapshots": True})
    admin = make_app(keyed)
    assert admin.enrollment.enroll(name, name, [admin.enrollment.embed_photo(photos[0])]).enrolled
    daemon = make_app(keyed).daemon(LogOnlyActuator())
    assert Decision.GRANTED in _visitor(daemon, photos[0], 9)(0.0)
    with admin.sessions() as s:
        template = admin.codec.decode(s.execute(select(Person.template)).scalar_one())
        crop = admin.codec.unseal(s.execute(select(Photo.face_crop)).scalar_one())
        assert s.get(Meta, "template_key_check") is not None
    secrets = [template.astype(np.float32).tobytes()[:64], crop[200:264]]
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    snapshots = [p for p in files if "snapshots" in p.parts]
    assert snapshots and all(p.name.endswith(".jpg.sealed") for p in snapshots)
    for path in files:
        data = path.read_bytes()
        assert not any(secret in data for secret in secrets), f"{path} holds a template or face crop in the clear"
        if path in snapshots:
            assert not data.startswith(b"\xff\xd8"), f"{path} is a plain JPEG"
            assert admin.codec.unseal(data).startswith(b"\xff\xd8")
    for path in files + [settings.data_dir, settings.snapshot_dir]:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by group or others"


def test_an_index_sealed_with_what_the_database_holds_is_never_served(lfw: Path, make_app, settings) -> None:  # type: ignore[no-untyped-def]
    """The attacker has a read-only copy of the database (a backup, a replica) and write access to
    gallery.faiss: they seal, with every key the database holds, an index mapping their own face
    to the victim's id. The door never serves it: without a template key the seal key derives
    from the audit key, which lives outside the database."""
    from gatekeeper.storage.database import index_seal_key
    from gatekeeper.storage.templates import IndexSeal

    admin, forged, victim_photos, attacker_photos = _attackers_index(lfw, make_app)
    with admin.sessions() as s:
        database_key = index_seal_key(s)  # what migration 0005 keeps in the database's meta table
    forged.save(settings.index_path, IndexSeal(database_key))
    actuator = LogOnlyActuator()
    daemon = make_app().daemon(actuator)
    assert Decision.GRANTED not in _visitor(daemon, attacker_photos[0], 11)(0.0)
    assert actuator.unlocks == []
    assert Decision.GRANTED in _visitor(daemon, victim_photos[0], 12)(100.0)
