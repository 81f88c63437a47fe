"""Decision thresholds: an explicit setting wins, else the model card's calibration."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from gatekeeper.config import Settings
from gatekeeper.core.openset import OpenSetCalibration, OperatingPoint
from gatekeeper.core.policy import PolicyRules
from gatekeeper.errors import InputError
from gatekeeper.vision.model_files import LIVENESS_MANIFEST, MODELS_DIR, liveness_calibration, liveness_door_figures, manifest_calibration

if TYPE_CHECKING:
    from gatekeeper.vision.model_card import ModelCard


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
    # The open-set calibration (model card) and the admin's target share of strangers let in per
    # visit: with both, ``match`` follows the gallery's size (``for_gallery``). None: the match
    # threshold is fixed (set explicitly, or a model card without the calibration).
    openset: OpenSetCalibration | None = None
    max_stranger_rate: float = 0.001
    max_duplicate_rate: float = 0.01
    gallery_size: int | None = None  # the size ``match`` was chosen for
    floor: float = 0.0  # ``match`` never goes below this (the card's per-pair FAR 1e-3 point)
    card: float = 1.0  # card + face: similarity to the badge holder needed (1:1)
    duplicate_fixed: bool = False  # max_duplicate_similarity set explicitly: it does not follow the gallery
    pair_point: float = 0.0  # the card's per-pair operating point (FAR 1e-4): the duplicate rule's floor
    fixed_match: bool = False  # min_match_similarity set explicitly: it does not follow the gallery
    margin_floor: float = 0.0  # the gallery's margin is never below this (the card's, or min_margin)
    # Door probes embedded by the int8 export score this much against fp32 templates compared with
    # full-precision probes (its manifest: ``similarity_shift``, about -0.0003): the card's door
    # thresholds move with them, so the calibrated stranger and staff rates hold. Explicit
    # settings, and the enrollment's duplicate rule (fp32 against fp32), do not move.
    probe_shift: float = 0.0

    @classmethod
    def resolve(cls, settings: Settings, card: ModelCard, probe_shift: float = 0.0) -> "DecisionThresholds":
        return cls.from_calibration(settings, card.name, card.calibration, probe_shift)

    @classmethod
    def from_calibration(cls, settings: Settings, model: str, cal: dict[str, Any], probe_shift: float = 0.0) -> "DecisionThresholds":
        """From the model manifest's calibration block (read without loading the model: `people
        list` and `config show` use this too); ``probe_shift``: the door encoder's (int8)."""
        match = settings.min_match_similarity if settings.min_match_similarity is not None else _shifted(cal.get("match_threshold"), probe_shift)
        margin = settings.min_margin if settings.min_margin is not None else cal.get("min_margin")
        if match is None or margin is None:
            raise InputError(f"model {model} carries no calibration; set GATEKEEPER_MATCH_THRESHOLD and GATEKEEPER_MIN_MARGIN")
        loosest = cal.get("far_thresholds", {}).get("0.01", {}).get("threshold")
        if loosest is not None and float(match) < loosest and not settings.accept_loose_threshold:
            raise InputError(
                f"min_match_similarity {float(match):.4f} is looser than {model}'s FAR 1e-2 point ({loosest:.4f}): more than one stranger in a "
                "hundred would match someone. Set accept_loose_threshold = true (GATEKEEPER_ACCEPT_LOOSE_THRESHOLD=1) if that is really meant"
            )
        duplicate = settings.max_duplicate_similarity if settings.max_duplicate_similarity is not None else cal.get("duplicate_threshold", match)
        same = settings.track_min_similarity if settings.track_min_similarity is not None else (loosest if loosest is not None else match)
        return cls(
            float(match), float(margin), settings.votes_needed, settings.votes_window, float(duplicate), float(same),
            liveness_threshold(settings), blink_depth(settings), settings.liveness_window_s,
            openset=_openset(model, cal), max_stranger_rate=settings.max_stranger_rate, max_duplicate_rate=settings.max_duplicate_rate,
            floor=float(cal.get("far_thresholds", {}).get("0.001", {}).get("threshold", 0.0)) + probe_shift, card=_card_threshold(settings, cal, float(match), probe_shift),
            duplicate_fixed=settings.max_duplicate_similarity is not None, pair_point=float(cal.get("match_threshold", match)),
            fixed_match=settings.min_match_similarity is not None, margin_floor=float(margin), probe_shift=probe_shift,
        )

    def operating_point(self, size: int) -> OperatingPoint | None:
        """What a gallery of ``size`` people gets at the target stranger rate (None: no calibration)."""
        if self.openset is None:
            return None
        point = self.openset.operating_point(size, self.max_stranger_rate, self.margin_floor)
        return replace(point, threshold=point.threshold + self.probe_shift)

    def predicted_at(self, size: int) -> OperatingPoint | None:
        """The stranger and staff rates the door gives at ``size`` people: the operating point for
        the target, or what a fixed min_match_similarity gives (None: no open-set calibration)."""
        if self.openset is None:
            return None
        if self.fixed_match:  # the tables are in full-precision scores
            return replace(self.openset.predicted(size, self.match - self.probe_shift, self.margin), threshold=self.match)
        return self.operating_point(size)

    def for_gallery(self, size: int) -> "DecisionThresholds":
        """These thresholds with ``match`` and ``margin`` chosen for a gallery of ``size`` people
        (unchanged when the threshold is fixed). The margin never drops below the card's (it
        also keeps relatives and lookalikes among staff apart), the threshold never below the
        card's per-pair FAR 1e-3 point (a tiny gallery does not make one comparison safer)."""
        point = self.operating_point(size)
        if point is None or self.fixed_match:
            return replace(self, gallery_size=size)
        return replace(self, match=max(point.threshold, self.floor), margin=point.margin, gallery_size=size)

    def duplicate_for(self, size: int) -> float:
        """Enrollment: the similarity at which a newcomer's face counts as one of ``size`` enrolled
        people's, chosen so that at most ``max_duplicate_rate`` of distinct newcomers are refused."""
        if self.openset is None or self.duplicate_fixed:
            return self.duplicate
        # Any enrolled match counts (no margin); never below the card's per-pair point, which
        # small galleries used before and which refuses fewer newcomers there.
        return max(self.pair_point, self.openset.operating_point(size, self.max_duplicate_rate, 0.0, 0.0).threshold)

    def rules(self, cooldown_s: float) -> PolicyRules:
        """What the door policy needs of these thresholds."""
        return PolicyRules(self.match, self.margin, self.votes_needed, self.votes_window, cooldown_s, self.liveness, self.blink, self.liveness_window_s)

    def card_rules(self, cooldown_s: float) -> PolicyRules:
        """Card + face: one candidate, the badge holder, at the 1:1 threshold (no runner-up)."""
        return replace(self.rules(cooldown_s), match=self.card, margin=0.0)


@lru_cache(maxsize=4)
def _shipped_calibration(model: str) -> dict[str, Any]:
    """The manifest's calibration, read once per process: the console asks on every page of people."""
    return manifest_calibration(model)


def door_outlook(settings: Settings, enrolled: int) -> str | None:
    """What the face alone gives a gallery of ``enrolled`` people at these settings, in one line
    (read from the model manifest: no model is loaded). None without an open-set calibration."""
    point = DecisionThresholds.from_calibration(settings, settings.model, _shipped_calibration(settings.model)).predicted_at(enrolled)
    if point is None:
        return None
    return f"door, face alone (target {settings.max_stranger_rate:.2%} strangers per visit): {point.summary()}"


CARD_FAR = "0.001"  # the per-pair FAR point card + face doors use (bench/gallery_scale.py)


def _card_threshold(settings: Settings, cal: dict[str, Any], match: float, probe_shift: float) -> float:
    """The setting, else the card's 1:1 point, else the door's own threshold (never looser)."""
    if settings.min_card_similarity is not None:
        return float(settings.min_card_similarity)
    point = cal.get("far_thresholds", {}).get(CARD_FAR, {}).get("threshold")
    return float(point) + probe_shift if point is not None else match


def _shifted(threshold: float | None, shift: float) -> float | None:
    return None if threshold is None else float(threshold) + shift


def _openset(model: str, cal: dict[str, Any]) -> OpenSetCalibration | None:
    block = cal.get("openset")
    if block is None:
        return None
    try:
        return OpenSetCalibration.from_manifest(block)
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"model {model}: malformed open-set calibration ({exc})") from exc


def liveness_outlook(settings: Settings) -> str:
    """What the door's liveness mode refuses and lets in, per attack type, with 95 % intervals,
    as measured (models/liveness.json ``door_figures``), and what was not measured."""
    if settings.liveness == "off":
        return "liveness off: a printed photo of an enrolled person is let in"
    figures = liveness_door_figures().get(settings.liveness)
    if not figures:
        return f"liveness {settings.liveness}: no measured figures in the liveness manifest"
    live, prints, stills = figures["live_granted"], figures["prints_let_in"], figures["stills_let_in"]
    return (f"liveness {settings.liveness}: printed photos let in {_share(prints)}; live visits granted {_share(live)}, "
            f"median {figures['live_median_s']:.2f} s after the first usable frame; still images injected into the video stream "
            f"let in {_share(stills)} (secure the camera link); not measured: {liveness_door_figures().get('not_measured', 'screen replay, masks, IR')}")


def _share(figure: dict[str, Any]) -> str:
    low, high = figure["ci95"]
    return f"{figure['hits']}/{figure['visits']} ({figure['hits'] / figure['visits']:.1%}, 95 % CI {low:.1%}-{high:.1%})"


def liveness_threshold(settings: Settings) -> float | None:
    """The live score a track needs: the setting, else the liveness manifest's calibration; None
    when liveness is off. A manifest without a calibration is refused (the door would guess)."""
    if settings.liveness == "off":
        return None
    return _calibrated(settings.min_live_score, "passive_threshold", "GATEKEEPER_MIN_LIVE_SCORE")


def blink_depth(settings: Settings) -> float | None:
    """The blink a track needs (``passive+blink``): the setting, else the calibration."""
    if settings.liveness != "passive+blink":
        return None
    return _calibrated(settings.min_blink_depth, "blink_depth", "GATEKEEPER_MIN_BLINK_DEPTH")


def _calibrated(setting: float | None, key: str, env: str) -> float:
    if setting is not None:
        return float(setting)
    try:
        return float(liveness_calibration(MODELS_DIR)[key])
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise InputError(f"no liveness calibration {key!r} in {MODELS_DIR / LIVENESS_MANIFEST} ({exc}): set {env}") from exc
