"""Issue #13: the admin's first hour. No command but `enroll` and `init` creates a database;
library noise stays out of the way unless asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _gatekeeper(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    return subprocess.run([sys.executable, "-m", "gatekeeper", *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [["people", "list"], ["people", "show", "emp-1"], ["audit"], ["audit", "verify"], ["audit", "--summary"], ["migrate"], ["people", "rename", "emp-1", "X"]])
def test_commands_run_from_the_wrong_directory_create_nothing(tmp_path: Path, args: list[str]) -> None:
    done = _gatekeeper(args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert str(tmp_path / "gatekeeper-data" / "gatekeeper.db") in done.stderr and "does not exist" in done.stderr
    assert list(tmp_path.iterdir()) == [], "no accidental gatekeeper-data/ left behind"


def test_init_creates_an_empty_installation_the_other_commands_then_use(tmp_path: Path) -> None:
    created = _gatekeeper(["init"], cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "gatekeeper-data" / "gatekeeper.db").is_file() and (tmp_path / "gatekeeper-data" / "audit.key").is_file()
    listing = _gatekeeper(["people", "list"], cwd=tmp_path)
    assert listing.returncode == 0 and "0 enrolled" in listing.stdout


def test_quiet_by_default_and_library_lines_with_verbose(tmp_path: Path) -> None:
    """Alembic's INFO lines (and faiss's loader) only with --verbose."""
    quiet = _gatekeeper(["init"], cwd=tmp_path)
    assert "INFO" not in quiet.stderr and "alembic" not in quiet.stderr.lower(), quiet.stderr
    loud = _gatekeeper(["--verbose", "init"], cwd=tmp_path / "..", env={"GATEKEEPER_DATA_DIR": str(tmp_path / "second")})
    assert "alembic" in loud.stderr.lower() and "INFO" in loud.stderr


def test_enroll_creates_the_installation(tmp_path: Path) -> None:
    import cv2

    from gatekeeper.demo import astronaut

    photo = tmp_path / "ada.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    done = _gatekeeper(["enroll", "--photo", str(photo), "--id", "emp-1", "--name", "Eileen Collins"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "gatekeeper-data" / "gatekeeper.db").is_file()
    assert "Could not load library" not in done.stderr and "INFO" not in done.stderr, done.stderr
