"""Enrollment on real LFW faces: one vector per person, removal, rebuilds, bad photos, lookalikes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from gatekeeper.match.gallery import GalleryIndex
from gatekeeper.storage.database import gallery_generation
from gatekeeper.storage.models import Person, Photo
from tests.conftest import lfw_people


def _counts(gk) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with gk.sessions() as s:
        return (s.scalar(select(func.count()).select_from(Person)), s.scalar(select(func.count()).select_from(Photo)), gallery_generation(s))


def test_several_photos_make_one_vector_and_removal_clears_it(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    (name, photos), (other, other_photos) = lfw_people(lfw, 2, 5, skip=10)
    res = gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(p) for p in photos[:4]])
    assert res.enrolled, res.reason
    gk.enrollment.enroll(other, other, [gk.enrollment.embed_photo(other_photos[0])])
    gallery = gk.gallery()
    assert len(gallery) == 2  # four photos, one vector
    with gk.sessions() as s:
        person = s.get(Person, name)
        per_photo = np.stack([gk.codec.decode(p.embedding) for p in person.photos])
        stored = gk.codec.decode(person.template)
    assert len(per_photo) == sum(r.ok for r in res.photos)
    mean = per_photo.mean(axis=0)
    np.testing.assert_allclose(stored, mean / np.linalg.norm(mean), atol=1e-6)
    # A fifth photo of the same person is closest to their single vector.
    probe = gk.enrollment.embed_photo(photos[4]).embedding
    assert gallery.search(probe[None], k=1)[0][0].person_id == name

    assert gk.enrollment.remove(name)
    assert _counts(gk)[:2] == (1, 1)
    assert [c.person_id for c in gk.gallery().search(probe[None], k=5)[0]] == [other]
    assert not gk.enrollment.remove(name)


def test_deleted_index_is_rebuilt_identically(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    for name, photos in lfw_people(lfw, 4, 2, skip=30):
        assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    before = gk.gallery()
    probes = np.random.default_rng(0).normal(size=(6, before.index.d)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    gk.settings.index_path.unlink()
    after = gk.gallery()
    assert gk.settings.index_path.is_file()
    assert after.people == before.people and after.generation == before.generation
    for a, b in zip(before.search(probes, k=4), after.search(probes, k=4)):
        assert [(c.person_id, round(c.similarity, 6)) for c in a] == [(c.person_id, round(c.similarity, 6)) for c in b]
    # A corrupt or stale index file is rebuilt too, never trusted.
    gk.settings.index_path.write_bytes(b"garbage")
    assert GalleryIndex.load(gk.settings.index_path, _seal(gk)) is None
    assert gk.gallery().people == before.people


def _seal(gk):  # type: ignore[no-untyped-def]
    from gatekeeper.match.gallery import INDEX_SEAL_PURPOSE, gallery_seal

    return gallery_seal(gk.codec, gk.audit.derived_key(INDEX_SEAL_PURPOSE))


def test_bad_photos_are_reported_and_change_nothing(lfw: Path, make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    (name, photos), (other, other_photos) = lfw_people(lfw, 2, 2, skip=50)
    assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    before = _counts(gk)
    index_bytes = gk.settings.index_path.read_bytes()

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    cv2.imwrite(str(bad / "wall.png"), np.full((300, 300, 3), 128, np.uint8))
    a, b = cv2.imread(str(photos[1])), cv2.imread(str(other_photos[0]))
    cv2.imwrite(str(bad / "two-people.jpg"), np.concatenate([a, b], axis=1))
    results = {p.name: gk.enrollment.embed_photo(p) for p in sorted(bad.iterdir())}
    assert "empty file" in results["empty.jpg"].reason
    assert "not an image" in results["garbage.jpg"].reason or "corrupt" in results["garbage.jpg"].reason
    assert results["wall.png"].reason == "no face found"
    assert "2 faces" in results["two-people.jpg"].reason
    assert all(str(bad) in r.path for r in results.values())

    outcome = gk.enrollment.enroll("newcomer", "Newcomer", list(results.values()))
    assert not outcome.enrolled and outcome.reason == "no usable photo"
    assert _counts(gk) == before
    assert gk.settings.index_path.read_bytes() == index_bytes


def test_a_lookalike_of_an_enrolled_person_is_refused_unless_forced(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    name, photos = lfw_people(lfw, 1, 4, skip=60)[0]
    assert gk.enrollment.enroll("first-id", name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    again = [gk.enrollment.embed_photo(p) for p in photos[1:3]]
    refused = gk.enrollment.enroll("second-id", name, again)
    assert not refused.enrolled and "first-id" in refused.reason
    assert _counts(gk)[0] == 1
    assert gk.enrollment.enroll("second-id", name, again, force=True).enrolled


def test_the_same_face_under_a_second_id_is_refused_and_named_at_removal(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    """Issue #11 item 5: an insider enrolls another photo of an enrolled person under a new id, so
    that the face survives the first id's removal. Refused against every enrolled photo; forced
    through anyway, the removal of the first id names the second."""
    gk = make_app()
    (name, photos), = lfw_people(lfw, 1, 4, skip=91)
    usable = [r for r in (gk.enrollment.embed_photo(p) for p in photos) if r.ok]
    assert gk.enrollment.enroll("emp-1", name, usable[:2]).enrolled
    alias = usable[2:3]
    refused = gk.enrollment.enroll("contractor-7", "Someone Else", alias)
    assert not refused.enrolled and "emp-1" in (refused.reason or "")
    assert gk.enrollment.enroll("contractor-7", "Someone Else", alias, force=True).enrolled
    assert gk.enrollment.remove("emp-1")
    assert [c.person_id for c in gk.enrollment.same_face_as] == ["contractor-7"]


def test_extend_keeps_old_photos_and_replace_drops_them(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    name, photos = lfw_people(lfw, 1, 4, skip=70)[0]
    gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])])
    gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[1])], extend=True)
    assert _counts(gk)[:2] == (1, 2)
    gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[2])])
    assert _counts(gk)[:2] == (1, 1)


@pytest.fixture
def cli_env(settings, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GATEKEEPER_DATA_DIR", str(settings.data_dir))
    return settings


def test_enroll_command_reports_per_file_errors(lfw: Path, tmp_path: Path, cli_env) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from gatekeeper.cli import app

    name, photos = lfw_people(lfw, 1, 2, skip=80)[0]
    folder = tmp_path / "enroll"
    (folder / "emp-001").mkdir(parents=True)
    (folder / "emp-001" / "a.jpg").write_bytes(photos[0].read_bytes())
    (folder / "emp-001" / "broken.jpg").write_bytes(b"")
    (folder / "emp-002").mkdir()
    (folder / "emp-002" / "blank.png").write_bytes(cv2.imencode(".png", np.zeros((200, 200, 3), np.uint8))[1].tobytes())
    (folder / "people.csv").write_text(f"person_id,name\nemp-001,{name}\n")
    result = CliRunner().invoke(app, ["enroll", str(folder), "--manifest", str(folder / "people.csv")])
    assert result.exit_code == 1, result.output
    assert "broken.jpg" in result.output and "empty file" in result.output
    assert "no usable photo" in result.output and "no face found" in result.output
    listing = CliRunner().invoke(app, ["people", "list"])
    assert "emp-001" in listing.output and name in listing.output and "emp-002" not in listing.output


def test_batch_enrollment_keeps_the_index_equal_to_a_rebuild(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    """Worker processes embed, the index follows each enrollment in memory, one file write at the
    end: what is saved must be what a rebuild from the database gives."""
    from gatekeeper.match.gallery import GalleryIndex, rebuild_from_database

    gk = make_app()
    people = lfw_people(lfw, 6, 3, skip=405)
    batch = [(name, name, photos[:2]) for name, photos in people]
    with gk.enrollment.batch():
        embedded = list(gk.enrollment.embed_people(batch))  # 12 photos: the process pool path
        assert [pid for pid, _, _ in embedded] == [name for name, _ in people]
        for pid, name, results in embedded:
            assert gk.enrollment.enroll(pid, name, results, force=True).enrolled
        # Re-enrolling someone inside the batch replaces their vector in place.
        first, photos = people[0]
        assert gk.enrollment.enroll(first, first, [gk.enrollment.embed_photo(photos[2])], force=True).enrolled
    saved = GalleryIndex.load(gk.settings.index_path, _seal(gk))
    with gk.sessions() as s:
        rebuilt = rebuild_from_database(s, gk.codec, gk.pipeline.encoder.dim, gk.pipeline.encoder.version)
        rows = s.execute(select(Person.person_id, Person.template)).all()
    assert saved is not None and saved.generation == rebuilt.generation == 7 and len(saved) == len(rebuilt) == 6
    templates = np.stack([gk.codec.decode(r.template) for r in rows])  # the re-enrolled one: its new vector
    hits = saved.search(templates, k=1)
    assert [h[0].person_id for h in hits] == [r.person_id for r in rows]
    assert all(h[0].similarity > 0.9999 for h in hits)
    sequential = [gk.enrollment.embed_photo(p) for p in batch[1][2]]
    agreement = [float(a.embedding @ b.embedding) for a, b in zip(sequential, embedded[1][2])]
    assert min(agreement) > 0.995, agreement  # one torch thread in a worker, two here: float noise only


def test_extend_without_a_name_keeps_the_enrolled_name(tmp_path: Path, cli_env, make_app) -> None:  # type: ignore[no-untyped-def]
    """The README's own `enroll --photo new.jpg --id emp-0042 --extend` used to rename Ada to "emp-0042"."""
    from typer.testing import CliRunner

    from gatekeeper.cli import app as cli
    from gatekeeper.demo import astronaut

    first, second = tmp_path / "ada-1.png", tmp_path / "ada-2.png"
    cv2.imwrite(str(first), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(second), cv2.cvtColor(astronaut()[:, ::-1], cv2.COLOR_RGB2BGR))
    runner = CliRunner()
    assert runner.invoke(cli, ["enroll", "--photo", str(first), "--id", "emp-0042", "--name", "Ada Lovelace"]).exit_code == 0
    out = runner.invoke(cli, ["enroll", "--photo", str(second), "--id", "emp-0042", "--extend"])
    assert out.exit_code == 0, out.output
    with make_app().sessions() as s:
        person = s.get(Person, "emp-0042")
        assert person.name == "Ada Lovelace" and len(person.photos) == 2


def test_every_file_in_an_enrollment_folder_is_accounted_for(tmp_path: Path, cli_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue #13 item 7: a file enrollment cannot read (here a Word document next to the photo) is
    listed with its reason, not skipped without a word. Everyone was enrolled: exit 0, the file a warning."""
    from typer.testing import CliRunner

    from gatekeeper.cli import app as cli
    from gatekeeper.demo import astronaut

    person = tmp_path / "enroll" / "eileen-collins"
    person.mkdir(parents=True)
    cv2.imwrite(str(person / "portrait.png"), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    (person / "badge-form.docx").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    monkeypatch.chdir(tmp_path)  # short paths: the table does not wrap them
    out = CliRunner().invoke(cli, ["enroll", "enroll"])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "badge-form.docx" in text and "supported format" in text
    assert "1/2" in text and "enrolled" in text
