"""Settings: environment variables ``GATEKEEPER_*``, an optional TOML file, then defaults.

Decision thresholds default to the calibration shipped in the model card, not to guesses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


def _toml_path() -> Path:
    return Path(os.environ.get("GATEKEEPER_CONFIG", "gatekeeper.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEKEEPER_", extra="forbid")

    # Storage
    data_dir: Path = Field(Path("gatekeeper-data"), description="database, index and snapshots live here")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir")
    template_key_file: Path | None = Field(None, description="Fernet key file: encrypt embeddings at rest")

    # Encoder and detector
    model: str = "doornet-v2"
    threads: int = Field(2, description="torch threads per pipeline")
    enroll_workers: int = Field(2, description="processes embedding photos side by side during enrollment")
    # Door detection (bench/frame_latency.py shows each knob's effect). A face at door distance has
    # eyes >= 40 px apart (min_inter_eye_px), so its box is >= ~80 px: smaller ones would fail the
    # quality gate anyway, and need not be searched for.
    detect_max_side: int = Field(320, description="door frames are downscaled to this long side for detection")
    detect_min_face_px: int = Field(80, description="smallest face box searched at the door (full-frame pixels)")
    detect_pyramid_factor: float = Field(0.5, description="MTCNN scale step: smaller = fewer pyramid levels, faster")
    detect_thresholds: tuple[float, float, float] = Field((0.8, 0.8, 0.8), description="MTCNN P/R/O-net score thresholds")

    # Quality gate (enrollment is stricter than the door: a bad template hurts every later visit)
    min_detection_score: float = 0.90
    min_inter_eye_px: float = 40.0
    min_enroll_inter_eye_px: float = Field(32.0, description="LFW-like 250 px portraits have ~43 px")
    min_sharpness: float = 25.0
    max_yaw: float = 0.45
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    second_face_ratio: float = 0.6

    # Decision (None = the model card's calibrated value)
    match_threshold: float | None = None
    min_margin: float | None = None
    # fusion: match each track's quality-weighted mean embedding of its last votes_window frames;
    # vote: match each frame alone. Either way the same person must win votes_needed of them.
    decision_rule: Literal["fusion", "vote"] = "fusion"
    votes_needed: int = 2
    votes_window: int = 3
    cooldown_s: float = 10.0
    tailgating: Literal["each-face", "deny-all-if-unknown"] = "each-face"
    unknown_log_interval_s: float = 5.0

    # Door
    door_id: str = "door-1"
    source: str = "0"
    actuator: Literal["log", "command", "webhook"] = "log"
    actuator_command: str | None = None
    actuator_url: str | None = None
    actuator_timeout_s: float = 2.0
    snapshots: bool = False
    gallery_refresh_s: float = 2.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_toml_path()))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'gatekeeper.db').resolve()}"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "gallery.faiss"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshots"
