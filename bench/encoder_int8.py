"""The int8 door encoder (encoder_precision = int8) against full precision, where the model card's
figures come from: templates embedded at full precision (enrollment), probes by each.

- LFW View 2 folds 1-5 (the shipped model, cross-validation model A, never trained on them): each
  pair's left photo is the template, its right photo the probe; accuracy (10-fold protocol over
  the five folds), TAR at FAR 1e-3.
- Open set on CelebA half A (never trained on by model A) with UTKFace strangers, as
  `gatekeeper eval openset` builds it: rank-1, FNIR at FPIR 1 % and 0.1 %.
- Agreement (cosine of int8 and fp32 embeddings of the same crop) and time per face, 1 thread.

Needs the face cache (`gatekeeper train cache`).

    python bench/encoder_int8.py [--out bench/results/encoder_int8.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.training.evaluate import open_set  # noqa: E402
from gatekeeper.training.facecache import load_cache  # noqa: E402
from gatekeeper.training.models import encoder_embedder  # noqa: E402
from gatekeeper.training.recipes import CV_GROUPS, cache_root, celeba_half, lfw_pairs  # noqa: E402
from gatekeeper.training.verification import ten_fold_report  # noqa: E402
from gatekeeper.vision.encoder import FaceEncoder  # noqa: E402
from gatekeeper.vision.model_files import manifest_calibration  # noqa: E402
from gatekeeper.vision.onnx_encoder import Int8FaceEncoder  # noqa: E402

DOOR_THRESHOLD = float(manifest_calibration("doornet-v2")["match_threshold"])  # the model card's pair point (FAR 1e-4)


def lfw_figures(full: FaceEncoder, probes: dict[str, object]) -> dict[str, dict[str, float]]:
    pairs, cache = lfw_pairs(), load_cache(cache_root() / "lfw")
    index = {p: i for i, p in enumerate(cache.paths.tolist())}
    rows = [i for i in np.flatnonzero(np.isin(pairs.fold, list(CV_GROUPS["A"]))) if pairs.left[i] in index and pairs.right[i] in index]
    left = full.embed(cache.crops[[index[pairs.left[i]] for i in rows]])
    out: dict[str, dict[str, float]] = {}
    accepted = {}
    for name, encoder in probes.items():
        right = encoder.embed(cache.crops[[index[pairs.right[i]] for i in rows]])  # type: ignore[attr-defined]
        scores = np.sum(left * right, axis=1)
        report = ten_fold_report(scores, pairs.same[rows], pairs.fold[rows])
        accepted[name] = scores >= DOOR_THRESHOLD + encoder.similarity_shift  # type: ignore[attr-defined]  # the door's threshold for this probe
        out[name] = {"pairs": len(rows), "accuracy": report.mean_accuracy, "tar_at_far_1e-3": report.tar_at_far[1e-3],
                     "accepted_at_door_threshold": {"same": int(accepted[name][pairs.same[rows]].sum()), "different": int(accepted[name][~pairs.same[rows]].sum())}}
    # Paired: which pair decisions at the door's threshold (moved by the export's similarity_shift
    # for int8 probes, as the door moves it) the int8 probe changes (the 10-fold figures above each
    # move by whole pairs, 1/1,500 of a class, so a few flips show as tenths).
    out["int8"]["decisions_changed_at_door_threshold"] = int((accepted["int8"] != accepted["fp32"]).sum())
    return out


def open_set_figures(full: FaceEncoder, probes: dict[str, object]) -> dict[str, dict[str, float]]:
    celeba, strangers = load_cache(cache_root() / "celeba"), load_cache(cache_root() / "utkface-strangers")
    stranger_rows = np.flatnonzero(strangers.detected)[: int(strangers.detected.sum()) // 2]  # half A's share, as eval openset splits them
    out, correct = {}, {}
    for name, encoder in probes.items():
        probe = encoder_embedder(encoder, celeba)  # type: ignore[arg-type]
        r = open_set(encoder_embedder(full, celeba), celeba, celeba_half(celeba.labels, "A"), encoder_embedder(encoder, strangers)(stranger_rows), probe)  # type: ignore[arg-type]
        out[name] = {"rank1": r.rank1, "fnir_at_fpir_0.01": r.fnir_at_fpir[0.01][1], "fnir_at_fpir_0.001": r.fnir_at_fpir[0.001][1], "threshold_at_fpir_0.01": r.fnir_at_fpir[0.01][0], "mated": r.mated, "strangers": r.strangers}
        correct[name] = r.mated_correct
    # Paired, probe by probe: rank-1 moves by whole probes (1/1,124), so say which way each moved
    # and how likely so many one-way moves are by chance (exact McNemar test).
    lost, gained = int((correct["fp32"] & ~correct["int8"]).sum()), int((~correct["fp32"] & correct["int8"]).sum())
    # Exact McNemar: a two-sided binomial test on the discordant probes.
    p = binomtest(lost, lost + gained, 0.5).pvalue if lost + gained else 1.0
    out["int8"]["rank1_paired"] = {"lost": lost, "gained": gained, "mcnemar_p": float(p)}
    return out


def speed(probes: dict[str, object], crop: np.ndarray) -> dict[str, dict[str, float]]:
    out = {}
    for name, encoder in probes.items():
        for flip in (True, False):
            spent = []
            for _ in range(51):
                t = time.perf_counter()
                encoder.embed(crop, flip=flip)  # type: ignore[attr-defined]
                spent.append((time.perf_counter() - t) * 1000)
            out.setdefault(name, {})["mirror_ms_p50" if flip else "single_ms_p50"] = float(np.median(spent[1:]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench/results/encoder_int8.json"))
    args = parser.parse_args()
    full = FaceEncoder(threads=1)
    probes = {"fp32": full, "int8": Int8FaceEncoder(threads=1)}
    lfw = load_cache(cache_root() / "lfw")
    sample = lfw.crops[:500]
    cosine = np.sum(probes["int8"].embed(sample) * full.embed(sample), axis=1)
    results = {"cosine_int8_fp32": {"faces": len(sample), "min": float(cosine.min()), "mean": float(cosine.mean())}, "speed_1_thread": speed(probes, lfw.crops[:1])}
    results["lfw_folds_1_5"] = lfw_figures(full, probes)
    results["open_set_celeba_half_a"] = open_set_figures(full, probes)
    for name in probes:
        l, o, s = results["lfw_folds_1_5"][name], results["open_set_celeba_half_a"][name], results["speed_1_thread"][name]
        print(f"{name}: LFW folds 1-5 accuracy {l['accuracy']:.2%}, TAR@FAR1e-3 {l['tar_at_far_1e-3']:.2%} ({l['pairs']} pairs) | open set half A rank-1 {o['rank1']:.2%}, "
              f"FNIR@FPIR1% {o['fnir_at_fpir_0.01']:.2%}, FNIR@FPIR0.1% {o['fnir_at_fpir_0.001']:.2%} | embed with mirror {s['mirror_ms_p50']:.1f} ms, one pass {s['single_ms_p50']:.1f} ms")
    print(f"int8 vs fp32 cosine on {len(sample)} LFW crops: min {cosine.min():.5f}, mean {cosine.mean():.5f}")
    print(f"LFW pair decisions at the door threshold {DOOR_THRESHOLD} (int8: {DOOR_THRESHOLD + probes['int8'].similarity_shift:.5f}): " + ", ".join(f"{n} accepts {results['lfw_folds_1_5'][n]['accepted_at_door_threshold']}" for n in probes)
          + f"; int8 changes {results['lfw_folds_1_5']['int8']['decisions_changed_at_door_threshold']} of {results['lfw_folds_1_5']['int8']['pairs']}")
    paired = results["open_set_celeba_half_a"]["int8"]["rank1_paired"]
    print(f"open set rank-1, probe by probe: int8 loses {paired['lost']} that fp32 identifies and gains {paired['gained']} (exact McNemar p = {paired['mcnemar_p']:.2f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
