"""Settings: environment variables ``GATEKEEPER_*``, the TOML file named by ``GATEKEEPER_CONFIG``,
then defaults.

Decision thresholds default to the calibration shipped in the model card, not to guesses. Every
value is range-checked (a door with ``votes_needed = 0`` or a negative threshold is refused at
start, naming the setting), and a config file is read only when named explicitly: a
``gatekeeper.toml`` lying in whatever directory the daemon starts in is never picked up.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from gatekeeper.core.access import zone
from gatekeeper.errors import InputError


CONFIG_ENV = "GATEKEEPER_CONFIG"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"  # door ids, like person ids: plain, printable, short


def config_path() -> Path | None:
    value = os.environ.get(CONFIG_ENV, "").strip()
    return Path(value) if value else None


def _toml_sources(settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
    path = config_path()
    if path is None:
        return ()
    if not path.is_file():
        raise InputError(f"{CONFIG_ENV}={path}: no such config file")
    if path.stat().st_mode & 0o022:
        raise InputError(f"{path}: config file is writable by group or others (chmod go-w): anyone could change the door's thresholds")
    return (TomlConfigSettingsSource(settings_cls, toml_file=path),)



# Settings renamed so that each name says which way it cuts (min_: at least this to pass; max_:
# refused from this on). The old names still work, environment and file alike, with a warning.
RENAMED = {
    "match_threshold": "min_match_similarity",
    "card_match_threshold": "min_card_similarity",
    "duplicate_threshold": "max_duplicate_similarity",
    "liveness_threshold": "min_live_score",
    "liveness_blink_depth": "min_blink_depth",
    "track_same_person": "track_min_similarity",
}


def _deprecated(old: str, new: str, where: str) -> None:
    # Named after the settings, not a line of pydantic's: the admin's config is what to change.
    warnings.warn_explicit(f"{where} {old} is deprecated and will be removed: use {new}", FutureWarning, "gatekeeper settings", 0)


class _RenamedEnvironment(PydanticBaseSettingsSource):
    """``GATEKEEPER_<OLD NAME>`` read into the renamed setting (below the new name's variable)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        found = {}
        for old, new in RENAMED.items():
            if (value := env.get(f"GATEKEEPER_{old.upper()}")) is not None:
                _deprecated(f"GATEKEEPER_{old.upper()}", f"GATEKEEPER_{new.upper()}", "environment variable")
                found[new] = value
        return found



class StorageSettings(BaseModel):
    """Where the installation's data lives, and the keys that protect it."""

    data_dir: Path = Field(Path("gatekeeper-data"), description="database, index and snapshots live here")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir")
    template_key: SecretStr | None = Field(None, description="Fernet key: encrypt embeddings, face crops and snapshots at rest (template_key_file wins when both are set)")
    template_key_file: Path | None = Field(None, description="file holding the Fernet key (chmod 600)")
    audit_key: SecretStr | None = Field(None, description="HMAC key of the audit chain (hex or base64, 16+ bytes); wins over audit_key_file")
    audit_key_file: Path | None = Field(None, description="HMAC key file of the audit chain; default: data_dir/audit.key, created once")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'gatekeeper.db').resolve()}"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "gallery.faiss"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshots"


class EncoderSettings(BaseModel):
    """Which face encoder runs, and how much of the box it may use."""

    model: str = Field("doornet-v2", description="face encoder: a manifest in models/ (changing it re-embeds the gallery: gatekeeper migrate)")
    # bench/threads_under_load.py, OMP_WAIT_POLICY=PASSIVE, YuNet + int8 door on a 2-vCPU AMD EPYC
    # VM: with one busy neighbour 1 thread ties 2 (p95 23.4 vs 24.3 ms, worst 34 vs 48 ms); idle 2
    # are 2.4 ms faster. A door box is shared, so the loaded case decides, and one thread leaves a
    # core to the video decoder and whatever else runs there.
    threads: int = Field(1, ge=1, le=64, description="compute threads per pipeline: torch, ONNX Runtime and OpenCV's DNN (detector, liveness nets)")
    # The mirror pass doubles the encoder's cost per door frame; it buys 2.4 points of TAR at FAR
    # 1e-4 (one grant in the 20-person door test). Off: faster, recalibrate first (model card).
    door_flip_average: bool = Field(True, description="also embed each door frame's mirror image and average")
    # int8 halves the door's encoder time (bench/encoder_int8.py) at the same LFW and open-set
    # figures (embeddings within 0.0006 cosine of fp32); enrollment templates are always fp32.
    # auto: a model trained here without an int8 export (gatekeeper train encoder-int8) still runs.
    encoder_precision: Literal["auto", "fp32", "bf16", "int8"] = Field("auto", description="door frames: int8 (the int8 export under ONNX Runtime; no torch needed), fp32 (torch), bf16 (torch, matrix work in bfloat16: faster only on CPUs with AVX-512 BF16 or AMX), or auto (int8 where the model's manifest names an int8 export, else fp32); enrollment is always fp32")
    enroll_workers: int = Field(2, ge=1, le=32, description="processes embedding photos side by side during enrollment")


class DetectionSettings(BaseModel):
    """How hard the door's detector looks (photos use their own thorough profile)."""

    # Door detection (bench/frame_latency.py shows each knob's effect). A face at door distance has
    # eyes >= 40 px apart (min_inter_eye_px), so its box is >= ~80 px: smaller ones would fail the
    # quality gate anyway, and need not be searched for.
    # yunet: the 0.3 MB detector OpenCV runs (models/yunet.json) with MTCNN's last stage for the
    # landmarks: half MTCNN's time, within 0.1 point of its accuracy (bench/door_detector.py).
    door_detector: Literal["mtcnn", "yunet"] = Field("yunet", description="face detector for door frames: yunet (YuNet + MTCNN's landmark stage, no torch needed) or mtcnn; photos always use MTCNN")
    detect_max_side: int = Field(320, ge=64, le=4096, description="door frames are downscaled to this long side for detection")
    detect_min_face_px: int = Field(80, ge=20, le=1000, description="smallest face box searched at the door (full-frame pixels)")
    detect_pyramid_factor: float = Field(0.5, gt=0.1, lt=1.0, description="door_detector = mtcnn: its scale step (smaller = fewer pyramid levels, faster)")
    detect_thresholds: tuple[float, float, float] = Field((0.8, 0.8, 0.8), description="door_detector = mtcnn: its P/R/O-net score thresholds")

    @model_validator(mode="after")
    def _detection_relations(self) -> Self:
        if not all(0.0 < t < 1.0 for t in self.detect_thresholds):
            raise ValueError(f"detect_thresholds must each lie in (0, 1), not {self.detect_thresholds}")
        return self


class QualitySettings(BaseModel):
    """The quality gate a face must pass. Enrollment takes smaller faces than the door (a badge
    photo often frames the face small) but is otherwise held to the same bars."""

    min_detection_score: float = Field(0.90, ge=0.0, le=1.0, description="detector confidence a face needs to count at all")
    min_inter_eye_px: float = Field(40.0, gt=0.0, le=1000.0, description="door: smallest face, as pixels between the eyes")
    min_enroll_inter_eye_px: float = Field(32.0, gt=0.0, le=1000.0, description="LFW-like 250 px portraits have ~43 px")
    min_sharpness: float = Field(25.0, ge=0.0, description="variance of the Laplacian on the aligned face: below it, blurred")
    max_yaw: float = Field(0.45, gt=0.0, le=1.0, description="head turn estimated from the landmarks: beyond it, too far turned")
    min_brightness: float = Field(40.0, ge=0.0, le=255.0, description="mean grey level of the face: below it, too dark")
    max_brightness: float = Field(220.0, ge=0.0, le=255.0, description="mean grey level of the face: above it, overexposed")
    # Enrollment takes a photo's most prominent face (size, discounted by distance from the centre)
    # and refuses the photo only when the next face is at least this prominent relative to it.
    second_face_ratio: float = Field(0.8, gt=0.0, le=1.0, description="enrollment: refuse a photo whose second face is this prominent relative to the first")

    @model_validator(mode="after")
    def _quality_relations(self) -> Self:
        if self.min_brightness >= self.max_brightness:
            raise ValueError(f"min_brightness ({self.min_brightness}) must be below max_brightness ({self.max_brightness})")
        return self


class DecisionSettings(BaseModel):
    """How the door decides. A threshold left at None is the model card's calibrated value."""

    min_match_similarity: float | None = Field(None, gt=0.0, lt=1.0, description="min cosine similarity to grant (default: the model card's)")
    min_margin: float | None = Field(None, ge=0.0, lt=1.0, description="min best-minus-second similarity (default: the model card's)")
    min_card_similarity: float | None = Field(None, gt=0.0, lt=1.0, description="card + face: min similarity to the badge holder (default: the model card's 1:1 point)")
    max_duplicate_similarity: float | None = Field(None, gt=0.0, lt=1.0, description="enrollment refuses a newcomer whose photo is at least this similar to another person's photo (default: the model card's)")
    # The door's threshold follows from this and the gallery's size (the model card's open-set
    # calibration): a stranger is compared with everyone enrolled, so a fixed threshold lets more
    # strangers in as the gallery grows. A min_match_similarity set explicitly overrides it.
    max_stranger_rate: float = Field(0.001, gt=0.0, le=0.05, description="share of strangers that may be granted per visit (FPIR); sets the threshold for the gallery's size")
    max_duplicate_rate: float = Field(0.01, gt=0.0, le=0.2, description="enrollment: share of distinct newcomers that may be refused as looking like someone enrolled")
    # fusion: match each track's quality-weighted mean embedding of its last votes_window frames;
    # vote: match each frame alone. Either way the same person must win votes_needed of them.
    decision_rule: Literal["fusion", "vote"] = Field("fusion", description="fusion: match each track's mean embedding; vote: match each frame alone")
    votes_needed: int = Field(2, ge=1, le=30, description="the same person must win this many ...")
    votes_window: int = Field(3, ge=1, le=30, description="... of a track's last this many frames")
    cooldown_s: float = Field(10.0, ge=0.0, le=3600.0, description="one grant (one unlock, one audit row) per person per this many seconds")
    # Tracks follow people: a face in a track's spot less similar than this to the track's face is a
    # new visit (default: the model card's FAR 1e-2 point). A track ends after track_max_age_s.
    track_min_similarity: float | None = Field(None, ge=0.0, le=1.0, description="a face in a track's spot less similar than this starts a new visit (default: the model card's)")
    track_max_age_s: float = Field(20.0, gt=0.0, le=3600.0, description="a track (one visit) ends after this many seconds")
    tailgating: Literal["each-face", "deny-all-if-unknown"] = Field("each-face", description="several faces at once: decide each, or unlock for nobody while a stranger is among them")
    # A threshold looser than the model card's FAR 1e-2 point lets more than one stranger in a
    # hundred match someone: it is refused unless this says the admin means it.
    accept_loose_threshold: bool = Field(False, description="allow min_match_similarity below the model card's FAR 1e-2 point")
    unknown_log_interval_s: float = Field(5.0, ge=0.0, le=3600.0, description="at most one denied-unknown row per this many seconds")

    @model_validator(mode="after")
    def _decision_relations(self) -> Self:
        if self.votes_needed > self.votes_window:
            raise ValueError(f"votes_needed ({self.votes_needed}) cannot exceed votes_window ({self.votes_window})")
        return self


class LivenessSettings(BaseModel):
    """Is the face at the door a live person? ``passive`` (default): the MiniFASNet pair scores a
    visit's first usable frames and their mean must reach the threshold, which refuses printed
    photos and grants a live person at once (bench/liveness.py: no wait for a blink, which people
    walking up to a door often do not give for seconds). ``passive+blink`` also waits up to
    ``liveness_window_s`` for a blink, which refuses still images pasted into the camera's video
    stream (an injection the camera link must be secured against anyway) at the price of refusing
    live people who do not blink in time. ``off`` lets a printed photo in. Thresholds default to
    the calibration in models/liveness.json."""

    liveness: Literal["passive+blink", "passive", "off"] = Field("passive", description="passive: the anti-spoofing nets; passive+blink: also wait for a blink; off: none")
    min_live_score: float | None = Field(None, gt=0.0, lt=1.0, description="min mean live score of a track to grant")
    min_blink_depth: float | None = Field(None, gt=0.0, lt=1.0, description="how far both eyes must close (fraction of open) to count as a blink")
    liveness_window_s: float = Field(4.0, gt=0.0, le=30.0, description="how long a matched, live track may wait for its blink")


class DoorSettings(BaseModel):
    """The door this process runs: its id, camera, actuator and reconnection."""

    door_id: str = Field("door-1", pattern=ID_PATTERN, description="this door's id in the audit log, access policy and MQTT topics")
    source: str = Field("0", description="camera: a device number, a stream URL (rtsp://, http://), a device node, or a video file or folder of images to replay")
    actuator: Literal["log", "command", "webhook"] = Field("log", description="what an unlock does: log only, run actuator_command, or POST to actuator_url")
    actuator_command: str | None = Field(None, description="actuator command: the program run on unlock; {door} and {person} are substituted")
    actuator_url: str | None = Field(None, description="actuator webhook: the relay controller's URL")
    # Shared with the relay controller: webhook bodies are signed with it (HMAC-SHA256).
    actuator_secret: SecretStr | None = Field(None, min_length=16, description="HMAC-SHA256 key the webhook bodies are signed with (16+ characters)")
    # An unsigned unlock can be sent by anyone on the network path to the relay: refused unless an
    # admin says, here, that the relay cannot check a signature (a warning is logged at start).
    actuator_allow_unsigned: bool = Field(False, description="allow webhook unlocks without actuator_secret (anyone on the network could open the door)")
    actuator_timeout_s: float = Field(2.0, gt=0.0, le=60.0, description="an actuator command or webhook taking longer is stopped and the unlock logged as failed")
    # Face snapshots, sealed, as evidence of who really came in: of every grant (default), of
    # every decision, or none. They go with the person (removal, anonymisation) and with
    # retention (`audit purge`, and snapshot_retention_days for the files alone).
    snapshots: Literal["off", "grants", "all"] = Field("grants", description="sealed face snapshots kept as evidence: of grants, of every decision, or none")
    snapshot_retention_days: int = Field(90, ge=1, le=3650, description="door snapshots older than this are deleted (their audit rows stay)")
    # face: everyone enrolled is found by their face alone (1:N). card+face: a badge names who
    # claims to be at the door and the face is checked against that one person (1:1): what a
    # site of thousands needs (see `gatekeeper people list` for what the face alone gives at its
    # size). card-or-face: a badge when one is presented, the face alone otherwise.
    door_mode: Literal["face", "card+face", "card-or-face"] = Field("face", description="face alone (1:N), a badge and the face (1:1), or either")
    badge_source: Path | None = Field(None, description="badge reader: a serial device, FIFO or file giving one badge number per line")
    claim_ttl_s: float = Field(5.0, gt=0.0, le=60.0, description="how long a presented badge waits for its holder's face")
    # Templates that fit the door: after a confident grant the door keeps the frame as a candidate
    # template photo (review: an admin accepts it with `gatekeeper people accept`; auto: added at
    # once), at most door_templates_cap door photos per person. Off: the door keeps no faces.
    door_templates: Literal["off", "review", "auto"] = Field("off", description="keep confident grants' frames as template photos: off, for an admin to accept, or at once")
    door_templates_cap: int = Field(2, ge=1, le=10, description="door photos a person's template may hold")
    # The review queue: refused faces (unknown, ambiguous, mismatch) kept sealed for an admin to
    # assign to a person, dismiss, or mark as not their nearest person; they expire on their own.
    review_captures: bool = Field(True, description="keep refused door faces (sealed) for the console's review queue")
    review_retention_days: int = Field(7, ge=1, le=365, description="review captures older than this are deleted")
    gallery_refresh_s: float = Field(2.0, ge=0.0, le=60.0, description="how often a running door looks for gallery changes")
    reconnect_initial_s: float = Field(0.5, gt=0.0, le=60.0, description="first wait before reopening a lost camera (doubling from here)")
    reconnect_max_s: float = Field(30.0, gt=0.0, le=3600.0, description="longest wait between camera reconnection attempts")

    @field_validator("snapshots", mode="before")
    @classmethod
    def _snapshots_as_before(cls, value: object) -> object:
        """Earlier releases took true/false: true kept every decision's face, false none."""
        if isinstance(value, bool) or str(value).lower() in ("true", "false", "1", "0", "yes", "no"):
            return "all" if str(value).lower() in ("true", "1", "yes") else "off"
        return value

    @model_validator(mode="after")
    def _door_relations(self) -> Self:
        if self.door_id == "admin":
            raise ValueError("door_id 'admin' is reserved: the audit log's admin rows use it")
        if self.reconnect_initial_s > self.reconnect_max_s:
            raise ValueError("reconnect_initial_s cannot exceed reconnect_max_s")
        if self.actuator == "command" and not self.actuator_command:
            raise ValueError("actuator 'command' needs actuator_command (GATEKEEPER_ACTUATOR_COMMAND)")
        if self.actuator == "webhook" and not self.actuator_url:
            raise ValueError("actuator 'webhook' needs actuator_url (GATEKEEPER_ACTUATOR_URL)")
        if self.actuator == "webhook" and self.actuator_secret is None and not self.actuator_allow_unsigned:
            raise ValueError("actuator 'webhook' needs actuator_secret (GATEKEEPER_ACTUATOR_SECRET, 16+ characters) so the relay can tell our unlocks from "
                             "anyone else's; set actuator_allow_unsigned = true only for a relay that cannot check a signature")
        return self


class AccessSettings(BaseModel):
    """Access policy (`gatekeeper access`): the site's timezone, for doors created without one and
    for validity dates and check times given without an offset."""

    timezone: str = Field("UTC", max_length=64, description="IANA timezone of the site, e.g. Europe/Berlin")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)  # an unknown name is refused here, not at the door
        return value


class EventSettings(BaseModel):
    """Decisions published to MQTT for integrations (Home Assistant, Frigate's convention):
    off unless ``mqtt_host`` is set."""

    mqtt_host: str | None = Field(None, max_length=253, description="MQTT broker; unset: nothing is published")
    mqtt_port: int = Field(1883, ge=1, le=65535, description="MQTT broker port")
    mqtt_tls: bool = Field(False, description="connect to the broker over TLS")
    mqtt_ca_file: Path | None = Field(None, description="CA certificate the broker's TLS certificate is checked against (default: the system's)")
    mqtt_username: str | None = Field(None, max_length=128, description="MQTT user name")
    mqtt_password: SecretStr | None = Field(None, description="MQTT password (needs mqtt_tls unless the broker is on this box)")
    mqtt_topic_prefix: str = Field("gatekeeper", pattern=r"^[A-Za-z0-9_\-/]{1,64}$", description="topics are <prefix>/<door_id>/...")
    mqtt_snapshot: bool = Field(False, description="also send the door's face snapshot (base64 JPEG; needs snapshots on)")

    @model_validator(mode="after")
    def _no_password_in_the_clear(self) -> Self:
        # MQTT sends the password in the CONNECT packet as it is: without TLS anyone on the path
        # reads it. A broker on this box (loopback) is the one exception.
        if self.mqtt_password is not None and not self.mqtt_tls and (self.mqtt_host or "") not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError(f"mqtt_password would cross the network to {self.mqtt_host} in the clear: set mqtt_tls = true (GATEKEEPER_MQTT_TLS=1)")
        return self


# One validated model per concern, each with its own ranges and relations; the names stay flat
# (GATEKEEPER_MATCH_THRESHOLD, not GATEKEEPER_DECISION__MATCH_THRESHOLD): they are what admins
# type, what deployments' config files and the docs use.
CONCERNS: dict[str, type[BaseModel]] = {
    "storage": StorageSettings, "encoder": EncoderSettings, "detection": DetectionSettings,
    "quality": QualitySettings, "decision": DecisionSettings, "liveness": LivenessSettings, "door": DoorSettings,
    "access": AccessSettings, "events": EventSettings,
}


class Settings(StorageSettings, EncoderSettings, DetectionSettings, QualitySettings, DecisionSettings, LivenessSettings, DoorSettings, AccessSettings, EventSettings, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEKEEPER_", extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _RenamedEnvironment(settings_cls), *_toml_sources(settings_cls))

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        """A config file (or caller) using an old name: read as the new one, which wins when both are given."""
        if not isinstance(data, dict):
            return data
        for old, new in RENAMED.items():
            if old in data:
                _deprecated(old, new, "setting")
                value = data.pop(old)
                data.setdefault(new, value)
        return data

    def concern(self, name: str) -> BaseModel:
        """The settings of one concern as their own model (e.g. ``settings.concern("decision")``)."""
        model = CONCERNS[name]
        return model.model_validate(self.model_dump(include=set(model.model_fields)))
