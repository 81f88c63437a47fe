"""Storage: migrations, encrypted templates at rest, and the gallery index as a cache of the database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import inspect

from gatekeeper.match.gallery import GalleryIndex, GalleryModelMismatch, gallery_seal, load_gallery
from gatekeeper.storage.database import bump_generation, open_database
from gatekeeper.storage.models import Person
from gatekeeper.storage.templates import TemplateCodec, TemplateKeyError


def test_migrations_create_the_schema(db_url: str) -> None:
    sessions = open_database(db_url)
    tables = set(inspect(sessions.kw["bind"]).get_table_names())
    assert {"people", "photos", "audit_events", "meta", "alembic_version"} <= tables
    open_database(db_url)  # idempotent on an existing database


def test_encrypted_templates_need_the_right_key() -> None:
    vec = np.random.default_rng(0).normal(size=128).astype(np.float32)
    key = Fernet.generate_key()
    sealed = TemplateCodec(key).encode(vec)
    assert vec.tobytes() not in sealed
    np.testing.assert_array_equal(TemplateCodec(key).decode(sealed), vec)
    with pytest.raises(TemplateKeyError, match="templates are encrypted"):
        TemplateCodec().decode(sealed)
    with pytest.raises(TemplateKeyError, match="wrong template key"):
        TemplateCodec(Fernet.generate_key()).decode(sealed)
    np.testing.assert_array_equal(TemplateCodec(key).decode(TemplateCodec().encode(vec)), vec)


def test_bad_key_file_is_a_clear_error(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("too short")
    with pytest.raises(TemplateKeyError, match="not a valid Fernet key"):
        TemplateCodec.from_settings(None, key_file)
    with pytest.raises(TemplateKeyError, match="cannot read"):
        TemplateCodec.from_settings(None, tmp_path / "absent")


def _add_person(sessions, codec: TemplateCodec, pid: str, vid: int, vec: np.ndarray, model: str = "m1") -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        s.add(Person(person_id=pid, name=pid, vector_id=vid, template=codec.encode(vec), model_version=model))
        bump_generation(s)


def test_index_follows_generation_and_model_version(tmp_path: Path, db_url: str) -> None:
    sessions = open_database(db_url)
    codec = TemplateCodec(Fernet.generate_key())
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(3, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    _add_person(sessions, codec, "a", 1, vecs[0])
    _add_person(sessions, codec, "b", 2, vecs[1])
    path = tmp_path / "gallery.faiss"
    key = Fernet.generate_key()  # the installation key (derived from the audit key in the product)
    first = load_gallery(sessions, codec, path, 8, "m1", key)
    assert len(first) == 2 and first.search(vecs[1:2], k=1)[0][0].person_id == "b"
    _add_person(sessions, codec, "c", 3, vecs[2])  # another process enrolls: the file is stale
    seal = gallery_seal(codec, key)
    assert GalleryIndex.load(path, seal).generation == first.generation
    assert len(load_gallery(sessions, codec, path, 8, "m1", key)) == 3
    # A new model version cannot use old vectors: the gallery is refused, naming the fix.
    with pytest.raises(GalleryModelMismatch, match="gatekeeper migrate"):
        load_gallery(sessions, codec, path, 8, "m2", key)
