"""Issue #11 items 6-12: what a hostile tester fed the CLI, the settings and the actuators.

Each test performs the attack and checks that it now fails to get through."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gatekeeper.door.actuate import ActuatorError, CommandActuator, WebhookActuator
from gatekeeper.cli import app as cli
from gatekeeper.config import Settings
from gatekeeper.cli.display import safe
from gatekeeper.match.gallery import GalleryIndex
from gatekeeper.core.identifiers import InvalidIdentifier, check_person_id, clean_display_name
from gatekeeper.vision.model_files import manifest_calibration
from gatekeeper.storage.database import open_database
from gatekeeper.storage.models import Person
from gatekeeper.storage.templates import IndexSeal, TemplateCodec

runner = CliRunner()


# -- item 6: a relay script's child outliving the timeout -----------------------------------
def test_actuator_timeout_kills_the_scripts_children_too(tmp_path: Path) -> None:
    child = tmp_path / "relay-child.pid"
    script = tmp_path / "relay.sh"
    script.write_text(f"#!/bin/sh\n(sleep 30; echo fired) &\necho $! > {child}\nsleep 30\n")
    script.chmod(0o700)
    with pytest.raises(ActuatorError, match="timed out"):
        CommandActuator(str(script), timeout_s=0.5).unlock("front", "emp-1")
    pid = int(child.read_text())
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _running(pid), "the relay's child outlived the timeout: it could fire after the audit log said the door stayed shut"


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed child whose parent is gone waits for init to reap it)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


# -- item 7: secrets in messages, the audit log and `config show` ---------------------------
def test_a_failing_webhook_does_not_write_its_token_anywhere() -> None:
    url = "http://relay-user:hunter2@127.0.0.1:9/open?token=s3cr3t-t0ken"  # port 9: nothing listens
    with pytest.raises(ActuatorError) as failure:
        WebhookActuator(url, timeout_s=0.5).unlock("front", "emp-1")
    assert "s3cr3t-t0ken" not in str(failure.value) and "hunter2" not in str(failure.value)


def test_config_show_redacts_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEKEEPER_ACTUATOR_URL", "https://relay/open?token=s3cr3t-t0ken")
    monkeypatch.setenv("GATEKEEPER_DATABASE_URL", "postgresql+psycopg://gk:pa55word@db.local/gk")
    monkeypatch.setenv("GATEKEEPER_SOURCE", "rtsp://admin:camp4ss@camera.local/stream")
    out = runner.invoke(cli, ["config", "show"])
    assert out.exit_code == 0, out.output
    for secret in ("s3cr3t-t0ken", "pa55word", "camp4ss"):
        assert secret not in out.output
    assert "environment GATEKEEPER_ACTUATOR_URL" in out.output.replace("\n", "")
    threshold_row = next(line for line in out.output.splitlines() if "min_match_similarity" in line)
    assert str(manifest_calibration("doornet-v2")["match_threshold"]) in threshold_row and "model card" in threshold_row, "the value in force, not None"


# -- item 8: permissions ------------------------------------------------------------------
def test_data_is_owner_only_under_a_permissive_umask(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    old = os.umask(0o022)
    try:
        sessions = open_database(f"sqlite:///{tmp_path / 'data' / 'gatekeeper.db'}")
        with sessions.begin() as s:
            s.add(Person(person_id="p", name="P", vector_id=1, template=b"GKv1", model_version="m"))
        index = GalleryIndex.build(np.eye(1, 8, dtype=np.float32), np.array([1]), ["p"], 8, 1, "m")
        index.save(tmp_path / "data" / "gallery.faiss", IndexSeal(Fernet.generate_key()))
    finally:
        os.umask(old)
    for path in [tmp_path / "data", *(tmp_path / "data").iterdir()]:
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is {oct(path.stat().st_mode & 0o777)}"


def test_a_key_file_readable_by_others_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from cryptography.fernet import Fernet

    key = tmp_path / "template.key"
    key.write_bytes(Fernet.generate_key())
    key.chmod(0o644)
    TemplateCodec.from_settings(None, key)
    assert any("readable by group or others" in r.getMessage() for r in caplog.records)


# -- item 9: settings ---------------------------------------------------------------------
@pytest.mark.parametrize("bad", [{"min_match_similarity": -5}, {"votes_needed": 0}, {"cooldown_s": -1}, {"votes_needed": 4, "votes_window": 3}, {"threads": 0}, {"door_id": "front; rm -rf /"}])
def test_nonsense_settings_are_refused(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        Settings(**bad)


def test_a_config_file_in_the_working_directory_is_not_picked_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GATEKEEPER_CONFIG", raising=False)
    (tmp_path / "gatekeeper.toml").write_text("min_match_similarity = 0.1\naccept_loose_threshold = true\n")
    assert Settings().min_match_similarity is None


def test_a_config_file_others_can_write_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "gatekeeper.toml"
    config.write_text("door_id = 'front'\n")
    monkeypatch.setenv("GATEKEEPER_CONFIG", str(config))
    config.chmod(0o600)
    assert Settings().door_id == "front"
    config.chmod(0o666)
    with pytest.raises(ValueError, match="writable by group or others"):
        Settings()


def test_a_threshold_looser_than_far_1e2_needs_acknowledgement(encoder) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.match.thresholds import DecisionThresholds

    with pytest.raises(ValueError, match="accept_loose_threshold"):
        DecisionThresholds.resolve(Settings(min_match_similarity=0.1), encoder.card)
    assert DecisionThresholds.resolve(Settings(min_match_similarity=0.1, accept_loose_threshold=True), encoder.card).match == 0.1


# -- item 10: ids, names and what reaches the terminal ---------------------------------------
@pytest.mark.parametrize("bad", ["[/]", "a/b", "x; touch /tmp/pwned", "ab\u200bc", "é", "x" * 65, "", "-rf", "\x1b[2Jx"])
def test_hostile_person_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        check_person_id(bad)


def test_reasonable_ids_and_names_are_accepted() -> None:
    assert check_person_id("emp-0042") == "emp-0042" and check_person_id("ada.lovelace@example") == "ada.lovelace@example"
    assert clean_display_name("  Zoë O'Brien-李 ") == "Zoë O'Brien-李"
    for bad in ("Eve\u202eevil", "bell\x07", "x" * 200, "   "):
        with pytest.raises(InvalidIdentifier):
            clean_display_name(bad)


def test_markup_and_escapes_already_stored_cannot_break_listings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows written before validation existed (or by hand): `people list` and `audit` still work
    and the terminal never receives a raw escape sequence."""
    data = tmp_path / "data"
    monkeypatch.setenv("GATEKEEPER_DATA_DIR", str(data))
    sessions = open_database(f"sqlite:///{(data / 'gatekeeper.db').resolve()}")
    with sessions.begin() as s:
        s.add(Person(person_id="[/]", name="\x1b[2J\x1b]0;owned\x07Mallory[bold]", vector_id=1, template=b"GKv1" + b"\0" * 512, model_version="m"))
    out = runner.invoke(cli, ["people", "list"])
    assert out.exit_code == 0, out.output
    assert "\x1b" not in out.output and "[/]" in out.output and "\\x1b" in out.output
    assert safe("[red]x\u200b") == "\\[red]x\\u200b"


# -- item 12: concurrent index saves ------------------------------------------------------
def test_concurrent_index_saves_never_collide(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    seal = IndexSeal(Fernet.generate_key())
    path = tmp_path / "gallery.faiss"
    vectors = np.eye(4, 8, dtype=np.float32)
    index = GalleryIndex.build(vectors, np.arange(1, 5), ["a", "b", "c", "d"], 8, 3, "m")
    errors: list[Exception] = []

    def save_many() -> None:
        for _ in range(40):
            try:
                index.save(path, seal)
            except Exception as exc:  # noqa: BLE001 - counted and reported below
                errors.append(exc)

    threads = [threading.Thread(target=save_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], f"{len(errors)} of 320 saves failed: {errors[:2]}"
    loaded = GalleryIndex.load(path, seal)
    assert loaded is not None and loaded.people == index.people
    assert [p.name for p in tmp_path.iterdir()] == ["gallery.faiss"], "temporary files left behind"


def test_enrolling_a_markup_id_through_the_cli_is_refused_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The progress bar, the result table and the error all show the id; none may parse it."""
    import cv2

    from gatekeeper.demo import astronaut

    monkeypatch.setenv("GATEKEEPER_DATA_DIR", str(tmp_path / "data"))
    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    out = runner.invoke(cli, ["enroll", "--photo", str(photo), "--id", "[/]", "--name", "x"])
    assert out.exit_code == 1, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), repr(out.exception)
    assert "person id '[/]' is not allowed" in out.output
