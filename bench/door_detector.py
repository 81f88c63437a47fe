"""The door's detector, MTCNN or YuNet: accuracy and time, in one run on the same frames.

Protocol: the LFW View-2 pairs of folds 1-5 (the shipped encoder, cross-validation model A, never
trained on them). Each pair's left photo is enrolled as enrollment reads it (MTCNN, the photo
profile); its right photo is placed in a 640x480 door frame at door distance (tests' door_frame:
eyes ~65 px apart, the same jitter for both detectors) and read by the door pipeline with each
detector in turn; the face nearest the frame's centre is the subject. Accuracy is 5-fold (threshold tuned on four folds, tested on the fifth), with
TAR at FAR 1e-3 over all pairs; a pair whose door face is not found or not usable counts as a
wrong answer for a same-person pair and a right one for a different-person pair (the door refuses).
Detection time is per door frame, both detectors alternating.

    python bench/door_detector.py [--pairs N | --quick] [--precision fp32|bf16|int8] [--out bench/results/door_detector.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.training.recipes import datasets_root, lfw_pairs  # noqa: E402
from gatekeeper.training.verification import ten_fold_report  # noqa: E402
from gatekeeper.vision.detect import most_central_face  # noqa: E402
from gatekeeper.vision.images import read_rgb  # noqa: E402
from gatekeeper.vision.pipeline import FaceError, FacePipeline  # noqa: E402
from tests.conftest import door_frame  # noqa: E402

DETECTORS = ("mtcnn", "yunet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=0, help="a random N of the 3,000 pairs (a quick check); 0: all")
    parser.add_argument("--precision", choices=("fp32", "bf16", "int8"), default="fp32", help="the encoder's precision (encoder_precision), both detectors")
    parser.add_argument("--quick", action="store_true", help="100 pairs (CI: not a figure to quote)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/door_detector.json"))
    args = parser.parse_args()
    args.pairs = 100 if args.quick else args.pairs
    pairs, root = lfw_pairs(), datasets_root() / "lfw"
    chosen = np.flatnonzero(pairs.fold < 5)
    if args.pairs:
        chosen = np.sort(np.random.default_rng(0).choice(chosen, args.pairs, replace=False))
    pipelines = {d: FacePipeline(Settings(door_detector=d, liveness="off", encoder_precision=args.precision)) for d in DETECTORS}
    enrolled: dict[str, np.ndarray | None] = {}
    scores = {d: np.full(len(chosen), np.nan) for d in DETECTORS}
    seconds: dict[str, list[float]] = {d: [] for d in DETECTORS}
    embed_seconds: dict[str, list[float]] = {d: [] for d in DETECTORS}
    started = time.time()
    for n, i in enumerate(chosen):
        left, right = pairs.left[i], pairs.right[i]
        if left not in enrolled:
            enrolled[left] = _enrolled(pipelines["mtcnn"], root / left)
        frame = door_frame(read_rgb(root / right), np.random.default_rng(int(i)))
        for d in DETECTORS if n % 2 == 0 else DETECTORS[::-1]:  # alternate which goes first
            probe, took, embedded = _door_embedding(pipelines[d], frame)
            seconds[d].append(took)
            if embedded is not None:
                embed_seconds[d].append(embedded)
            if probe is not None and enrolled[left] is not None:
                scores[d][n] = float(probe @ enrolled[left])
        if n % 500 == 499:
            print(f"{n + 1} pairs, {time.time() - started:.0f} s", flush=True)
    same, fold = pairs.same[chosen], pairs.fold[chosen]
    results = {"precision": args.precision, "pairs": int(len(chosen)), "protocol": "LFW folds 1-5: enrollment MTCNN photo vs door frame", "detectors": {}}
    both = ~np.isnan(scores["mtcnn"]) & ~np.isnan(scores["yunet"])
    results["pairs_both_usable"] = int(both.sum())
    for d in DETECTORS:
        found = ~np.isnan(scores[d])
        filled = np.where(found, scores[d], -1.0)  # not found: the door refuses
        report = ten_fold_report(filled, same, fold)
        results["detectors"][d] = {
            "accuracy": report.mean_accuracy, "tar_at_far_1e-3": report.tar_at_far[1e-3], "door_faces_missed": int((~found).sum()),
            "accuracy_both_usable": ten_fold_report(scores[d][both], same[both], fold[both]).mean_accuracy,
            "embed_ms_p50": float(np.percentile(embed_seconds[d], 50) * 1e3) if embed_seconds[d] else None,
            "detect_ms_p50": float(np.percentile(seconds[d], 50) * 1e3), "detect_ms_p95": float(np.percentile(seconds[d], 95) * 1e3),
        }
        r = results["detectors"][d]
        print(f"{d:6s} accuracy {r['accuracy']:.2%} ({r['accuracy_both_usable']:.2%} on the {both.sum()} pairs both read)  TAR@FAR1e-3 {r['tar_at_far_1e-3']:.2%}  missed {r['door_faces_missed']}  detect p50/p95 {r['detect_ms_p50']:.2f}/{r['detect_ms_p95']:.2f} ms  embed p50 {r['embed_ms_p50']:.2f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


def _enrolled(pipeline: FacePipeline, path: Path) -> np.ndarray | None:
    try:
        return pipeline.enrollment_face(read_rgb(path), str(path)).embedding
    except FaceError:
        return None


def _door_embedding(pipeline: FacePipeline, frame: np.ndarray) -> tuple[np.ndarray | None, float, float | None]:
    """The door's embedding of the pair's subject (LFW's convention: the face nearest the centre;
    the largest would sometimes be a face cut by the photo's edge, which YuNet finds and MTCNN
    seldom does), the detection and embedding times."""
    t = time.perf_counter()
    faces = pipeline.detect(frame, pipeline.door)
    took = time.perf_counter() - t
    subject = most_central_face(faces, frame.shape)
    if subject is None:
        return None, took, None
    crop, quality = pipeline.align(frame, subject)
    face = pipeline.judge(subject, crop, quality, pipeline.door)
    if not face.usable:
        return None, took, None
    t = time.perf_counter()
    pipeline.embed([face], pipeline.door)  # the door's encoder (int8 when encoder_precision says so)
    return face.embedding, took, time.perf_counter() - t


if __name__ == "__main__":
    main()
