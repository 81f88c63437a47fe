"""What `gatekeeper config show` prints: each setting's value, redacted, and where it came from."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator

from gatekeeper.core.redaction import redact_database_url, redact_source, redact_url
from gatekeeper.config import CONCERNS, CONFIG_ENV, RENAMED, Settings, config_path
from gatekeeper.vision.model_files import LIVENESS_MANIFEST, liveness_calibration, manifest_calibration

RENAMED_FROM = {new: old for old, new in RENAMED.items()}
_SECRET_URLS = {"database_url": redact_database_url, "actuator_url": redact_url, "source": redact_source}
_FROM_LIVENESS = {"min_live_score": "passive_threshold", "min_blink_depth": "blink_depth"}
_FROM_CARD = {"min_match_similarity": "match_threshold", "min_margin": "min_margin", "max_duplicate_similarity": "duplicate_threshold", "track_min_similarity": None}


def setting_rows(settings: Settings) -> Iterator[tuple[str, str, str, str]]:
    """(concern, name, value as shown, source) for every setting, concern by concern."""
    path = config_path()
    in_file = tomllib.loads(path.read_text()) if path is not None else {}
    calibration = manifest_calibration(settings.model)
    env = {k.upper() for k in os.environ}  # pydantic-settings matches names case-insensitively
    values = settings.model_dump()
    for concern, model in CONCERNS.items():
        for name in model.model_fields:
            value = values[name]
            old = RENAMED_FROM.get(name)
            if f"GATEKEEPER_{name.upper()}" in env:
                source = f"environment GATEKEEPER_{name.upper()}"
            elif old and f"GATEKEEPER_{old.upper()}" in env:
                source = f"environment GATEKEEPER_{old.upper()} (deprecated name)"
            elif name in in_file:
                source = f"{CONFIG_ENV} file {path}"
            elif old and old in in_file:
                source = f"{CONFIG_ENV} file {path}, as {old} (deprecated name)"
            elif value is None and name in _FROM_CARD:
                value, source = _from_card(name, calibration), f"model card ({settings.model} calibration)"  # the value in force
            elif value is None and name in _FROM_LIVENESS and settings.liveness != "off":
                value, source = _liveness_calibration().get(_FROM_LIVENESS[name]), f"liveness manifest (models/{LIVENESS_MANIFEST})"
            else:
                source = "default"
            shown = _SECRET_URLS[name](value) if name in _SECRET_URLS and isinstance(value, str) else value
            yield concern, name, str(shown), source


def _liveness_calibration() -> dict:  # type: ignore[type-arg]
    try:
        return liveness_calibration()
    except (OSError, ValueError, KeyError):
        return {}


def _from_card(name: str, calibration: dict) -> object:  # type: ignore[type-arg]
    if _FROM_CARD[name] is None:  # track_min_similarity, as DecisionThresholds resolves it: the card's FAR 1e-2 point
        return calibration.get("far_thresholds", {}).get("0.01", {}).get("threshold", calibration.get("match_threshold"))
    return calibration.get(_FROM_CARD[name])


def reference_markdown() -> str:
    """The settings reference of the manual (docs/reference/settings.md), from the models
    themselves: each concern's docstring, then each setting's variable, type, default and
    description, so the manual cannot drift from the code (tests/test_docs.py)."""
    lines = ["# Settings reference", "",
             "Every setting is an environment variable `GATEKEEPER_<NAME>` or a key in the TOML file named by",
             f"`{CONFIG_ENV}`; `gatekeeper config show` prints the values in force and where each came from.",
             "Generated from `gatekeeper/config.py` by `gatekeeper config reference`.", ""]
    for concern, model in CONCERNS.items():
        lines += [f"## {concern}", "", " ".join((model.__doc__ or "").split()), "", "| setting | type | default | what it does |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            default = "" if field.default is None else f"`{_shown_default(field.default)}`"
            lines.append(f"| `{name}`<br>`GATEKEEPER_{name.upper()}` | {_type_name(field.annotation)} | {default} | {_cell(field.description or '')} |")
        lines.append("")
    return "\n".join(lines)


def _shown_default(value: object) -> str:
    return str(tuple(value)) if isinstance(value, tuple) else str(value)


def _type_name(annotation: object) -> str:
    text = str(annotation).replace("typing.", "").replace("pathlib.", "").replace("pydantic.types.", "")
    text = text.replace("<class '", "").replace("'>", "").replace("NoneType", "None")
    return _cell(text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
