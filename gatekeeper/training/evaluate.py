"""`gatekeeper eval` and `gatekeeper calibrate`: honest LFW, open-set and threshold figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gatekeeper.training.facecache import CachedFaces
from gatekeeper.training.lfw import LfwPairs
from gatekeeper.training.verification import VerificationReport, ten_fold_report
from gatekeeper.training.recipes import CV_GROUPS

# Embeds the cached faces at these row indices: the full encoder on the crops, or the fine-tuned
# head on cached trunk features. Either way flip-averaged unit vectors, as at the door.
Embedder = Callable[[np.ndarray], np.ndarray]


def lfw_embeddings(embed: Embedder, cache: CachedFaces, paths: set[str]) -> dict[str, np.ndarray]:
    idx = np.flatnonzero(np.isin(cache.paths, sorted(paths)))
    return dict(zip(cache.paths[idx].tolist(), embed(idx)))


def lfw_cross_validated(models: dict[str, Embedder], cache: CachedFaces, pairs: LfwPairs) -> tuple[VerificationReport, np.ndarray]:
    """Each fold scored only by the model that held it out; thresholds tuned within its group."""
    scores = np.full(len(pairs.same), np.nan)
    for group, embed in models.items():
        in_group = np.isin(pairs.fold, list(CV_GROUPS[group]))
        rows = np.flatnonzero(in_group)
        emb = lfw_embeddings(embed, cache, {pairs.left[i] for i in rows} | {pairs.right[i] for i in rows})
        for i in rows:
            scores[i] = float(emb[pairs.left[i]] @ emb[pairs.right[i]])
    covered = ~np.isnan(scores)
    groups = [CV_GROUPS[g] for g in models]
    return ten_fold_report(scores[covered], pairs.same[covered], pairs.fold[covered], groups), scores


def all_pair_scores(emb: np.ndarray, labels: np.ndarray, probe: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor similarities over every pair of photos (upper triangle). With
    ``probe`` (the same photos embedded as the door does), each pair is enrolled-side x door-side."""
    sims = emb @ (emb if probe is None else probe).T
    iu = np.triu_indices(len(emb), k=1)
    same = labels[iu[0]] == labels[iu[1]]
    flat = sims[iu]
    return flat[same], flat[~same]


@dataclass(frozen=True)
class Calibration:
    far_thresholds: dict[float, tuple[float, float]]  # target FAR -> (threshold, TAR there)
    genuine: int
    impostor: int


def calibrate(genuine: np.ndarray, impostor: np.ndarray, targets: tuple[float, ...] = (1e-2, 1e-3, 1e-4)) -> Calibration:
    out = {}
    imp = np.sort(impostor)
    for far in targets:
        # The smallest threshold whose impostor accept rate stays at or below the target.
        k = int(np.floor(far * len(imp)))
        th = float(imp[len(imp) - k - 1]) + 1e-6 if k < len(imp) else float(imp[0])
        out[far] = (th, float((genuine > th).mean()))
    return Calibration(out, len(genuine), len(impostor))


@dataclass(frozen=True)
class OpenSetResult:
    rank1: float
    fnir_at_fpir: dict[float, tuple[float, float]]  # FPIR -> (threshold, FNIR)
    mated: int
    strangers: int
    gallery: int
    correct_margins: np.ndarray  # top1 - top2 for correctly identified mated probes
    mated_top1: np.ndarray
    mated_correct: np.ndarray
    stranger_top1: np.ndarray


def open_set(embed: Embedder, identities: CachedFaces, held_out: set[str], strangers: np.ndarray, probe_embed: Embedder | None = None) -> OpenSetResult:
    """Enroll one photo for half the held-out identities; probe with their others; the rest, and
    ``strangers`` (embeddings of never-trained-on UTKFace faces), are strangers. ``probe_embed``
    embeds the probes as the door does (default: like the enrollment photos)."""
    probe_embed = probe_embed or embed
    labels = identities.labels
    names = sorted(held_out)
    enrolled, other = set(names[0::2]), set(names[1::2])
    gal_idx = np.array([np.flatnonzero((labels == n) & identities.detected)[0] for n in sorted(enrolled)])
    mated_idx = np.setdiff1d(np.flatnonzero(np.isin(labels, list(enrolled))), gal_idx)
    stranger_idx = np.flatnonzero(np.isin(labels, list(other)))
    gal = embed(gal_idx)
    gal_names = labels[gal_idx]
    mated = probe_embed(mated_idx) @ gal.T
    stranger = np.concatenate([probe_embed(stranger_idx), strangers]) @ gal.T
    top = np.argsort(-mated, axis=1)
    correct = gal_names[top[:, 0]] == labels[mated_idx]
    top1 = mated[np.arange(len(mated)), top[:, 0]]
    margins = top1 - mated[np.arange(len(mated)), top[:, 1]]
    return open_set_result(top1, correct, margins[correct], stranger.max(axis=1), len(gal))


def open_set_result(mated_top1: np.ndarray, correct: np.ndarray, margins: np.ndarray, stranger_top1: np.ndarray, gallery: int) -> OpenSetResult:
    fnir = {}
    srt = np.sort(stranger_top1)
    for fpir in (1e-2, 1e-3):
        k = int(np.floor(fpir * len(srt)))
        th = float(srt[len(srt) - k - 1]) + 1e-6
        fnir[fpir] = (th, float(1 - (correct & (mated_top1 > th)).mean()))
    return OpenSetResult(float(correct.mean()), fnir, len(mated_top1), len(stranger_top1), gallery, margins, mated_top1, correct, stranger_top1)


def merge_open_set(results: list[OpenSetResult]) -> OpenSetResult:
    return open_set_result(
        np.concatenate([r.mated_top1 for r in results]),
        np.concatenate([r.mated_correct for r in results]),
        np.concatenate([r.correct_margins for r in results]),
        np.concatenate([r.stranger_top1 for r in results]),
        int(np.mean([r.gallery for r in results])),
    )


def margin_for(result: OpenSetResult, threshold: float, keep: float = 0.99) -> float:
    """The runner-up margin that still lets ``keep`` of correct, above-threshold matches through."""
    ok = result.correct_margins[result.mated_top1[result.mated_correct] > threshold]
    return float(np.quantile(ok, 1 - keep)) if len(ok) else 0.0

