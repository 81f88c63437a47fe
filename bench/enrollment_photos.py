"""Enrollment photos as an admin has them: ordinary portraits (people in the background) and tight
face crops (badge and ID photos), through the product's own enrollment stage.

1. Portraits: the first LFW photo of every person (5,749), each through
   ``FacePipeline.enrollment_face``: how many are accepted, why the others are refused, and whether
   the face taken is the portrait's subject (LFW centres its subject: the taken face's centre within
   a sixth of the photo's side of the centre) rather than someone in the background.
2. Tight crops: LFW View 2 pairs of the folds the shipped model never trained on, each photo also
   cut to the face box MTCNN finds in the full photo (``--crop-scale`` 1.0; 0.9 cuts into the
   face: forehead and chin), both embedded by the enrollment stage; same-person verification
   accuracy (threshold chosen on the other folds, as the LFW protocol does; only pairs whose two
   full photos pass the enrollment gate) on the full photos, on the crops (a crop the stage
   refuses counts as a wrong answer), and with one crop against one full photo (a badge photo
   enrolled, the door's camera frame); and how far each crop's embedding is from its full photo's.

    python bench/enrollment_photos.py [--portraits 5749] [--folds 5] [--crop-scale 1.0 0.9]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.training.lfw import best_threshold  # noqa: E402
from gatekeeper.training.recipes import CV_GROUPS, datasets_root, lfw_pairs  # noqa: E402
from gatekeeper.vision.images import read_rgb  # noqa: E402
from gatekeeper.vision.pipeline import FaceError, FacePipeline  # noqa: E402


def portraits(pipeline: FacePipeline, root: Path, limit: int) -> dict[str, object]:
    people = sorted(p for p in root.iterdir() if p.is_dir())[:limit]
    reasons: Counter[str] = Counter()
    off_centre = []
    for person in people:
        path = sorted(person.glob("*.jpg"))[0]
        image = read_rgb(path)
        try:
            face = pipeline.enrollment_face(image, path)
        except FaceError as exc:
            reasons[_kind(exc.reason)] += 1
            continue
        offset = np.abs(face.detection.centre - np.array([image.shape[1] / 2, image.shape[0] / 2])).max() / min(image.shape[:2])
        if offset > 1 / 6:
            off_centre.append(str(path.relative_to(root)))
    accepted = len(people) - sum(reasons.values())
    return {"portraits": len(people), "accepted": accepted, "refused": dict(reasons), "taken_face_off_centre": off_centre}


def _kind(reason: str) -> str:
    for key in ("no face", "equally prominent", "too small", "blurred", "pose", "exposed", "uncertain"):
        if key in reason:
            return key
    return reason


def crop_to_face(image: np.ndarray, box: np.ndarray, scale: float) -> np.ndarray:
    """The photo cut to ``scale`` x its subject's face box (1.0: the face fills the frame)."""
    x1, y1, x2, y2 = box
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, scale * max(x2 - x1, y2 - y1) / 2
    top, left = int(max(0, cy - half)), int(max(0, cx - half))
    return image[top : int(min(image.shape[0], cy + half)), left : int(min(image.shape[1], cx + half))].copy()


def tight_crops(pipeline: FacePipeline, root: Path, folds: int, scales: list[float]) -> dict[str, object]:
    pairs = lfw_pairs()
    keep = np.isin(pairs.fold, sorted(CV_GROUPS["A"])[:folds])
    photos = sorted(set(np.array(pairs.left)[keep]) | set(np.array(pairs.right)[keep]))
    full: dict[str, np.ndarray] = {}
    crops: dict[float, dict[str, np.ndarray]] = {s: {} for s in scales}
    for rel in photos:
        image = read_rgb(root / rel)
        try:
            subject = pipeline.enrollment_face(image, rel)
        except FaceError:
            continue
        full[rel] = subject.embedding
        for scale in scales:
            faces = pipeline.judged_faces(crop_to_face(image, subject.detection.box, scale), pipeline.enrollment)
            if faces and faces[0].usable:
                pipeline.embed(faces[:1], pipeline.enrollment)
                crops[scale][rel] = faces[0].embedding
    usable = keep & np.array([a in full and b in full for a, b in zip(pairs.left, pairs.right)])
    out: dict[str, object] = {"photos": len(photos), "pairs": int(usable.sum()), "accuracy_full": _accuracy(pairs, usable, full, full)}
    for scale, crop in crops.items():
        drift = [1.0 - float(full[r] @ crop[r]) for r in crop]
        mixed = (_accuracy(pairs, usable, crop, full) + _accuracy(pairs, usable, full, crop)) / 2
        accepted = usable & np.array([a in crop and b in crop for a, b in zip(pairs.left, pairs.right)])  # both crops passed the gate
        out[f"crop_{scale:g}"] = {"accuracy": _accuracy(pairs, usable, crop, crop), "accuracy_crop_vs_full": mixed, "refused": len(full) - len(crop),
                                  "accepted_pairs": int(accepted.sum()), "accepted_accuracy_full": _accuracy(pairs, accepted, full, full), "accepted_accuracy_crop": _accuracy(pairs, accepted, crop, crop),
                                  "cosine_drift_p50": float(np.median(drift)), "cosine_drift_p95": float(np.quantile(drift, 0.95)), "cosine_drift_max": float(np.max(drift))}
    return out


def _accuracy(pairs, keep: np.ndarray, left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> float:  # type: ignore[no-untyped-def]
    """Mean over folds of accuracy at a threshold chosen on the other held-out folds (``keep``:
    the pairs scored); a pair with a photo the stage could not use counts as wrong."""
    scores = np.array([float(left[a] @ right[b]) if a in left and b in right else -1.0 for a, b in zip(pairs.left, pairs.right)])
    accs = []
    for f in np.unique(pairs.fold[keep]):
        train = keep & (pairs.fold != f)
        t = best_threshold(scores[train], pairs.same[train])
        test = keep & (pairs.fold == f)
        accs.append(float(((scores[test] >= t) == pairs.same[test]).mean()))
    return float(np.mean(accs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portraits", type=int, default=5749)
    parser.add_argument("--folds", type=int, default=5, help="held-out View 2 folds for the tight-crop pairs (1-5)")
    parser.add_argument("--crop-scale", type=float, nargs="+", default=[1.0, 0.9], help="tight crops: this many face boxes wide")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/enrollment_photos.json"))
    args = parser.parse_args()
    root = datasets_root() / "lfw"
    if not root.is_dir():
        print(f"skipped: no LFW at {root}")
        return
    started = time.time()
    pipeline = FacePipeline(Settings())
    n, folds = (40, 1) if args.quick else (args.portraits, args.folds)
    result = {"portraits": portraits(pipeline, root, n)}
    p = result["portraits"]
    if n:
        print(f"portraits: {p['accepted']}/{p['portraits']} accepted; refused {p['refused']}; taken face off centre: {len(p['taken_face_off_centre'])}", flush=True)
    if not args.quick:
        result["tight_crops"] = t = tight_crops(pipeline, root, folds, args.crop_scale)
        print(f"tight crops, {t['pairs']} pairs: full photos {t['accuracy_full']:.2%}")
        for scale in args.crop_scale:
            c = t[f"crop_{scale:g}"]
            print(f"  cut to {scale:g}x the face box: crops {c['accuracy']:.2%}, crop against full photo {c['accuracy_crop_vs_full']:.2%} (refused crops {c['refused']}, counted as errors); "
                  f"on the {c['accepted_pairs']} pairs whose crops both passed the gate: full {c['accepted_accuracy_full']:.2%}, crops {c['accepted_accuracy_crop']:.2%}; "
                  f"cosine drift p50 {c['cosine_drift_p50']:.4f}, p95 {c['cosine_drift_p95']:.4f}, max {c['cosine_drift_max']:.4f}")
    result["seconds"] = round(time.time() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
