"""The README's first command: `gatekeeper demo` on a machine with no camera and no data."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gatekeeper.cli import app


def test_demo_grants_the_enrolled_astronaut_and_denies_grace_hopper(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--workdir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "door unlocked for: ['eileen-collins']" in result.output
    rows = [line for line in result.output.splitlines() if "demo-door" in line]
    assert len(rows) == 3 and "granted" in rows[0] and "eileen-collins" in rows[0]
    assert "denied-unknown" in rows[1]
    assert "demo-door-2" in rows[2] and "denied-spoof" in rows[2], "with liveness on, her photo is refused"
    assert "audit chain intact" in result.output


def test_config_show_lists_the_effective_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GATEKEEPER_DOOR_ID", "loading-bay")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "loading-bay" in result.output and "database" in result.output
