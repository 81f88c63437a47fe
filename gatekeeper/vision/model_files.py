"""Where model files are, without loading any of them (no torch): the shipped models folder, a
model name or path resolved to its weights, and the manifest's calibration."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any


def _models_dir() -> Path:
    try:
        return Path(str(resources.files("gatekeeper.models")))
    except ModuleNotFoundError:
        # A source checkout imported directly (its gatekeeper/ shadowing an installed wheel): the
        # mapped package is not importable from there, but the folder is right beside it.
        return Path(__file__).resolve().parent.parent / "models"


MODELS_DIR = _models_dir()
DEFAULT_MODEL = "doornet-v2"
LIVENESS_MANIFEST = "liveness.json"  # the liveness models' files, sha256s and calibration


def resolve_model_path(model: str | Path) -> Path:
    """A name like ``doornet-v2`` means the shipped ``models/doornet-v2.pt``; anything else is a path."""
    path = Path(model)
    if path.suffix != ".pt":
        path = MODELS_DIR / f"{model}.pt"
    return path


def manifest_calibration(model: str | Path) -> dict[str, Any]:
    """The calibration block of the model's manifest; empty when it cannot be read."""
    try:
        return dict(json.loads(resolve_model_path(model).with_suffix(".json").read_text()).get("calibration", {}))
    except (OSError, ValueError, AttributeError):
        return {}


def liveness_calibration(folder: Path = MODELS_DIR) -> dict[str, Any]:
    """The calibration block of the liveness manifest; raises OSError/ValueError when unreadable
    (the door must not guess its thresholds; `config show` catches and shows nothing)."""
    return dict(json.loads((folder / LIVENESS_MANIFEST).read_text())["calibration"])


def liveness_door_figures(folder: Path = MODELS_DIR) -> dict[str, Any]:
    """What each liveness mode did at the door in bench/liveness.py (the manifest's
    ``door_figures``); empty when the manifest holds none."""
    try:
        return dict(json.loads((folder / LIVENESS_MANIFEST).read_text()).get("door_figures", {}))
    except (OSError, ValueError, AttributeError):
        return {}
