"""Calibrating the door from held-out data and writing it into the model's manifest: the per-pair
thresholds, margin and duplicate-person threshold (``calibrate_door``), and the open-set
operating points per gallery size (``calibrate_openset_manifest``). The CLI only parses
arguments and prints what these return."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DUPLICATE_FAR = 1e-5  # photo x photo: the duplicate check compares a newcomer with every enrolled photo


def cv_embedders(model_a: Path, model_b: Path, dataset: str, flip: bool | None = None) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Per cross-validation group, the model that never trained on it, over a cached dataset."""
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.models import encoder_embedder
    from gatekeeper.training.recipes import cache_root
    from gatekeeper.vision.encoder import FaceEncoder

    cache = load_cache(cache_root() / dataset)
    return {"A": encoder_embedder(FaceEncoder(model_a, threads=2), cache, flip), "B": encoder_embedder(FaceEncoder(model_b, threads=2), cache, flip)}


def open_set_all(model_a: Path, model_b: Path, probe_flip: bool | None = None):  # type: ignore[no-untyped-def]
    """CelebA open-set identification, each half scored by the model that never saw it."""
    from gatekeeper.training.evaluate import merge_open_set, open_set
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.recipes import cache_root, celeba_half

    celeba = load_cache(cache_root() / "celeba")
    strangers = load_cache(cache_root() / "utkface-strangers")
    stranger_rows = np.flatnonzero(strangers.detected)
    half = len(stranger_rows) // 2
    celeba_embed = cv_embedders(model_a, model_b, "celeba")
    celeba_probe, stranger_probe = cv_embedders(model_a, model_b, "celeba", probe_flip), cv_embedders(model_a, model_b, "utkface-strangers", probe_flip)
    parts = []
    for i, group in enumerate(("A", "B")):
        rows = stranger_rows[i * half : (i + 1) * half]
        parts.append(open_set(celeba_embed[group], celeba, celeba_half(celeba.labels, group), stranger_probe[group](rows), celeba_probe[group]))
    return merge_open_set(parts)


@dataclass(frozen=True)
class DoorCalibration:
    far_thresholds: dict[float, tuple[float, float]]  # target FAR -> (threshold, TAR)
    match: float
    margin: float
    duplicate: float
    duplicate_tar: float
    genuine: int
    impostor: int


def calibrate_door(model_a: Path, model_b: Path, operating_far: float, probe_flip: bool) -> DoorCalibration:
    """Thresholds for target false-accept rates (held-out LFW all-pairs, enrolled side x door
    side), the top-1/top-2 margin, and the duplicate-person threshold (photo x photo)."""
    from gatekeeper.training.evaluate import all_pair_scores, calibrate, margin_for
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.recipes import CV_GROUPS, cache_root, lfw_pairs

    lfw, pairs = load_cache(cache_root() / "lfw"), lfw_pairs()
    genuine, impostor, photo_impostor, photo_genuine = [], [], [], []
    door = cv_embedders(model_a, model_b, "lfw", probe_flip)
    for group, embed in cv_embedders(model_a, model_b, "lfw").items():
        idx = np.flatnonzero(np.isin(lfw.labels, list(pairs.identities_in_folds(CV_GROUPS[group]))) & lfw.detected)
        enrolled = embed(idx)
        g, i = all_pair_scores(enrolled, lfw.labels[idx], door[group](idx))  # enrollment photo x door probe
        genuine.append(g)
        impostor.append(i)
        g, i = all_pair_scores(enrolled, lfw.labels[idx])  # enrollment photo x enrollment photo
        photo_genuine.append(g)
        photo_impostor.append(i)
    cal = calibrate(np.concatenate(genuine), np.concatenate(impostor))
    duplicate, duplicate_tar = calibrate(np.concatenate(photo_genuine), np.concatenate(photo_impostor), (DUPLICATE_FAR,)).far_thresholds[DUPLICATE_FAR]
    match = cal.far_thresholds[operating_far][0]
    margin = margin_for(open_set_all(model_a, model_b, probe_flip), match)
    return DoorCalibration(dict(cal.far_thresholds), match, margin, duplicate, duplicate_tar, cal.genuine, cal.impostor)


def write_door_calibration(card: Path, cal: DoorCalibration, operating_far: float, probe: str) -> None:
    """Into the manifest's ``calibration`` block (an open-set block measured on its own is kept)."""
    meta = json.loads(card.read_text())
    meta["calibration"] = {
        **({"openset": meta["calibration"]["openset"]} if "openset" in meta.get("calibration", {}) else {}),
        "match_threshold": round(cal.match, 4), "min_margin": round(cal.margin, 4), "operating_far": operating_far,
        "duplicate_threshold": round(cal.duplicate, 4), "duplicate_tar": round(cal.duplicate_tar, 4),
        "far_thresholds": {f"{far:g}": {"threshold": round(th, 4), "tar": round(tar, 4)} for far, (th, tar) in cal.far_thresholds.items()},
        "pairs": {"genuine": cal.genuine, "impostor": cal.impostor},
        "door_probe": probe,
        "source": "LFW all-pairs of cross-validation held-out identities, flip-averaged enrolled side x door-side probe; margin keeps 99% of correct open-set matches",
    }
    card.write_text(json.dumps(meta, indent=2) + "\n")


def calibrate_openset_manifest(card: Path) -> tuple[Any, dict[str, int], float]:
    """Measure the open-set calibration on the calibration share and write it into ``card``:
    (the calibration, the counts it was measured on, the manifest's margin floor)."""
    from gatekeeper.training.openset import calibrate_openset
    from gatekeeper.training.scale_data import protocol
    from gatekeeper.vision.encoder import FaceEncoder

    encoder = FaceEncoder(card.with_suffix(".pt"))
    cal, counts = calibrate_openset(protocol("calibration", encoder))
    meta = json.loads(card.read_text())
    meta.setdefault("calibration", {})["openset"] = {
        **cal.as_manifest(), **counts,
        "source": "calibration share of held-out people (LFW folds 1-2, half of CelebA half A, UTKFace 4000-4999) against the distractor pool "
                  "(UTKFace 6000-15999, one photo per trained-on LFW and CelebA identity); mirror-averaged embeddings on both sides",
    }
    card.write_text(json.dumps(meta, indent=2) + "\n")
    return cal, counts, meta["calibration"].get("min_margin", 0.0)
