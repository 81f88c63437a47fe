"""Configuration: one validated model per concern, whose relations hold on their own and inside
the flat Settings the environment fills."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from gatekeeper.config import CONCERNS, DecisionSettings, DoorSettings, QualitySettings, Settings


@pytest.mark.parametrize(
    ("model", "values", "named"),
    [
        (DecisionSettings, {"votes_needed": 4, "votes_window": 3}, "votes_needed (4) cannot exceed votes_window (3)"),
        (QualitySettings, {"min_brightness": 200, "max_brightness": 100}, "must be below max_brightness"),
        (DoorSettings, {"door_id": "admin"}, "reserved"),
        (DoorSettings, {"actuator": "webhook"}, "needs actuator_url"),
        (DoorSettings, {"actuator": "webhook", "actuator_url": "http://relay/open"}, "needs actuator_secret"),
        (DoorSettings, {"actuator": "command"}, "needs actuator_command"),
        (DoorSettings, {"reconnect_initial_s": 10, "reconnect_max_s": 1}, "cannot exceed reconnect_max_s"),
        (DoorSettings, {"door_id": "front door; rm -rf"}, "pattern"),
        (DecisionSettings, {"min_match_similarity": 1.5}, "less than 1"),
    ],
)
def test_each_concern_refuses_what_does_not_hold_together(model: type, values: dict, named: str) -> None:  # type: ignore[type-arg]
    for cls in (model, Settings):  # the concern alone, and inside the settings the door reads
        with pytest.raises(ValidationError, match=re.escape(named)):
            cls(**values)


def test_every_setting_belongs_to_exactly_one_concern() -> None:
    names = [n for model in CONCERNS.values() for n in model.model_fields]
    assert len(names) == len(set(names)) and set(names) == set(Settings.model_fields)


def test_a_concern_can_be_taken_out_as_its_own_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEKEEPER_VOTES_NEEDED", "3")
    monkeypatch.setenv("GATEKEEPER_VOTES_WINDOW", "5")
    decision = Settings().concern("decision")
    assert isinstance(decision, DecisionSettings) and (decision.votes_needed, decision.votes_window) == (3, 5)


def test_config_show_prints_the_liveness_thresholds_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from gatekeeper.cli import app
    from gatekeeper.vision.model_files import MODELS_DIR

    monkeypatch.setenv("GATEKEEPER_LIVENESS", "passive+blink")
    out = CliRunner().invoke(app, ["config", "show"])
    calibration = json.loads((MODELS_DIR / "liveness.json").read_text())["calibration"]
    row = next(line for line in out.output.splitlines() if "min_live_score" in line)
    assert str(calibration["passive_threshold"]) in row and "liveness manifest" in row, "the value in force, not None"


def test_the_keys_are_settings_shown_redacted(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The template and audit keys come through Settings like every other value (no module reads
    the environment behind it), and `config show` names their source without printing them."""
    from cryptography.fernet import Fernet
    from typer.testing import CliRunner

    from gatekeeper.app import App
    from gatekeeper.cli import app as cli

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("GATEKEEPER_TEMPLATE_KEY", key)
    monkeypatch.setenv("GATEKEEPER_AUDIT_KEY", "ab" * 32)
    monkeypatch.setenv("GATEKEEPER_DATA_DIR", str(tmp_path))
    gk = App(Settings())
    assert gk.codec.encrypting and not (tmp_path / "audit.key").exists(), "both keys taken from the settings"
    shown = CliRunner().invoke(cli, ["config", "show"], env={"COLUMNS": "300"}).output
    assert key not in shown and "ab" * 32 not in shown
    assert "GATEKEEPER_TEMPLATE_KEY" in shown and "GATEKEEPER_AUDIT_KEY" in shown


def test_renamed_settings_still_read_their_old_names_with_a_warning(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Threshold names now say their direction (min_ / max_); a deployment configured with the
    old names keeps its values, is warned, and `config show` says where each came from."""
    from typer.testing import CliRunner

    from gatekeeper.cli import app
    from gatekeeper.cli.settings_report import setting_rows

    monkeypatch.setenv("GATEKEEPER_MATCH_THRESHOLD", "0.97")
    config = tmp_path / "gatekeeper.toml"
    config.write_text("liveness_threshold = 0.5\nmin_card_similarity = 0.91\ncard_match_threshold = 0.2\n")
    config.chmod(0o600)
    monkeypatch.setenv("GATEKEEPER_CONFIG", str(config))
    with pytest.warns(FutureWarning, match="GATEKEEPER_MATCH_THRESHOLD is deprecated"):
        settings = Settings()
    assert (settings.min_match_similarity, settings.min_live_score) == (0.97, 0.5)
    assert settings.min_card_similarity == 0.91, "the new name wins over the old one"
    monkeypatch.setenv("GATEKEEPER_MIN_MATCH_SIMILARITY", "0.98")
    assert Settings().min_match_similarity == 0.98, "the new variable wins over the old one"
    monkeypatch.delenv("GATEKEEPER_MIN_MATCH_SIMILARITY")
    monkeypatch.setenv("GATEKEEPER_LIVENESS", "passive")
    out = CliRunner().invoke(app, ["config", "show"])
    assert out.exit_code == 0 and "min_match_similarity" in out.output
    rows = {name: (value, source) for _, name, value, source in setting_rows(Settings())}
    assert rows["min_match_similarity"] == ("0.97", "environment GATEKEEPER_MATCH_THRESHOLD (deprecated name)")
    assert rows["min_live_score"] == ("0.5", f"GATEKEEPER_CONFIG file {config}, as liveness_threshold (deprecated name)")
