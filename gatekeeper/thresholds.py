"""Decision thresholds: an explicit setting wins, else the model card's calibration."""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.config import Settings
from gatekeeper.core.policy import PolicyRules
from gatekeeper.errors import InputError
from gatekeeper.model_files import LIVENESS_MANIFEST, MODELS_DIR, liveness_calibration
from gatekeeper.vision.encoder import ModelCard


@dataclass(frozen=True)
class DecisionThresholds:
    match: float  # best cosine similarity needed to grant
    margin: float  # best minus second-best person, against lookalikes and relatives
    votes_needed: int  # the same person must win N ...
    votes_window: int  # ... of the last M frames of a track
    duplicate: float  # enrollment: a new photo this similar to another person's photo is refused
    same_person: float  # door tracker: a face in a track's spot below this is someone else (a new visit)
    liveness: float | None = None  # a track's mean live score needed to grant; None: liveness off
    blink: float | None = None  # the blink depth a track needs; None: no blink needed
    liveness_window_s: float = 4.0

    @classmethod
    def resolve(cls, settings: Settings, card: ModelCard) -> "DecisionThresholds":
        cal = card.calibration
        match = settings.match_threshold if settings.match_threshold is not None else cal.get("match_threshold")
        margin = settings.min_margin if settings.min_margin is not None else cal.get("min_margin")
        if match is None or margin is None:
            raise InputError(f"model {card.name} carries no calibration; set GATEKEEPER_MATCH_THRESHOLD and GATEKEEPER_MIN_MARGIN")
        loosest = cal.get("far_thresholds", {}).get("0.01", {}).get("threshold")
        if loosest is not None and float(match) < loosest and not settings.accept_loose_threshold:
            raise InputError(
                f"match_threshold {float(match):.4f} is looser than {card.name}'s FAR 1e-2 point ({loosest:.4f}): more than one stranger in a "
                "hundred would match someone. Set accept_loose_threshold = true (GATEKEEPER_ACCEPT_LOOSE_THRESHOLD=1) if that is really meant"
            )
        duplicate = settings.duplicate_threshold if settings.duplicate_threshold is not None else cal.get("duplicate_threshold", match)
        same = settings.track_same_person if settings.track_same_person is not None else (loosest if loosest is not None else match)
        return cls(float(match), float(margin), settings.votes_needed, settings.votes_window, float(duplicate), float(same),
                   liveness_threshold(settings), blink_depth(settings), settings.liveness_window_s)

    def rules(self, cooldown_s: float) -> PolicyRules:
        """What the door policy needs of these thresholds."""
        return PolicyRules(self.match, self.margin, self.votes_needed, self.votes_window, cooldown_s, self.liveness, self.blink, self.liveness_window_s)


def liveness_threshold(settings: Settings) -> float | None:
    """The live score a track needs: the setting, else the liveness manifest's calibration; None
    when liveness is off. A manifest without a calibration is refused (the door would guess)."""
    if settings.liveness == "off":
        return None
    return _calibrated(settings.liveness_threshold, "passive_threshold", "GATEKEEPER_LIVENESS_THRESHOLD")


def blink_depth(settings: Settings) -> float | None:
    """The blink a track needs (``passive+blink``): the setting, else the calibration."""
    if settings.liveness != "passive+blink":
        return None
    return _calibrated(settings.liveness_blink_depth, "blink_depth", "GATEKEEPER_LIVENESS_BLINK_DEPTH")


def _calibrated(setting: float | None, key: str, env: str) -> float:
    if setting is not None:
        return float(setting)
    try:
        return float(liveness_calibration(MODELS_DIR)[key])
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise InputError(f"no liveness calibration {key!r} in {MODELS_DIR / LIVENESS_MANIFEST} ({exc}): set {env}") from exc
