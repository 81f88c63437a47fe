"""Enrollment photos as an admin has them: ordinary portraits (people in the background) and tight
face crops (badge and ID photos), through the product's own enrollment stage.

1. Portraits: the first LFW photo of every person (5,749), each through
   ``FacePipeline.enrollment_face``: how many are accepted, why the others are refused, and whether
   the face taken is the portrait's subject (LFW centres its subject: the taken face's centre within
   a sixth of the photo's side of the centre) rather than someone in the background.
2. Tight crops: LFW View 2 pairs of the folds the shipped model never trained on, each photo also
   cropped to its face box (0.9x the box MTCNN finds in the full photo: the face fills the frame), both embedded
   by the enrollment stage; same-person verification accuracy (threshold chosen on the other
   folds, as the LFW protocol does) on the full photos and on the crops, and how far each crop's
   embedding is from its full photo's.

    python bench/enrollment_photos.py [--portraits 5749] [--folds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import replace
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


def crop_to_face(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The photo cut to its subject's face: 0.9x the face box, so the face fills the frame."""
    x1, y1, x2, y2 = box
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, 0.9 * max(x2 - x1, y2 - y1) / 2  # the face fills the frame
    top, left = int(max(0, cy - half)), int(max(0, cx - half))
    return image[top : int(min(image.shape[0], cy + half)), left : int(min(image.shape[1], cx + half))].copy()


def tight_crops(pipeline: FacePipeline, root: Path, folds: int) -> dict[str, object]:
    pairs = lfw_pairs()
    keep = np.isin(pairs.fold, sorted(CV_GROUPS["A"])[:folds])
    photos = sorted(set(np.array(pairs.left)[keep]) | set(np.array(pairs.right)[keep]))
    full, crop, unpadded, drift = {}, {}, {}, []
    plain = replace(pipeline.enrollment, pad_tight=False)  # as before the border: for comparison
    for rel in photos:
        image = read_rgb(root / rel)
        try:
            subject = pipeline.enrollment_face(image, rel)
        except FaceError:
            continue
        full[rel] = subject.embedding
        tight = crop_to_face(image, subject.detection.box)
        for store, profile in ((crop, pipeline.enrollment), (unpadded, plain)):
            faces = pipeline.judged_faces(tight, profile)
            if faces and faces[0].usable:
                pipeline.embed(faces[:1], profile)
                store[rel] = faces[0].embedding
        if rel in crop:
            drift.append(1.0 - float(full[rel] @ crop[rel]))
    out: dict[str, object] = {"photos": len(photos), "crops_embedded": len(crop), "cosine_drift_p50": float(np.median(drift)), "cosine_drift_p95": float(np.quantile(drift, 0.95)),
                              "cosine_drift_max": float(np.max(drift))}
    # Only pairs whose two full photos pass the enrollment gate: the crops are compared with them,
    # and a crop the stage cannot use counts as a wrong answer.
    usable = keep & np.array([a in full and b in full for a, b in zip(pairs.left, pairs.right)])
    out["pairs"] = int(usable.sum())
    for name, emb in (("full", full), ("crop", crop), ("crop_without_border", unpadded)):
        out[f"accuracy_{name}"] = _accuracy(pairs, usable, emb)
        out[f"unusable_{name}"] = len(full) - len(set(emb) & set(full))
    return out


def _accuracy(pairs, keep: np.ndarray, emb: dict[str, np.ndarray]) -> float:  # type: ignore[no-untyped-def]
    """Mean over folds of accuracy at a threshold chosen on the other held-out folds (``keep``:
    the pairs scored); a pair with a photo the stage could not use counts as wrong."""
    scores = np.array([float(emb[a] @ emb[b]) if a in emb and b in emb else -1.0 for a, b in zip(pairs.left, pairs.right)])
    accs = []
    for f in np.unique(pairs.fold[keep]):
        train = keep & (pairs.fold != f)
        t = best_threshold(scores[train], pairs.same[train])
        test = pairs.fold == f
        accs.append(float(((scores[test] >= t) == pairs.same[test]).mean()))
    return float(np.mean(accs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portraits", type=int, default=5749)
    parser.add_argument("--folds", type=int, default=5, help="held-out View 2 folds for the tight-crop pairs (1-5)")
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
    print(f"portraits: {p['accepted']}/{p['portraits']} accepted; refused {p['refused']}; taken face off centre: {len(p['taken_face_off_centre'])}", flush=True)
    if not args.quick:
        result["tight_crops"] = t = tight_crops(pipeline, root, folds)
        print(f"tight crops ({t['pairs']} pairs): accuracy full {t['accuracy_full']:.2%}, crops {t['accuracy_crop']:.2%} (without the border {t['accuracy_crop_without_border']:.2%}; unusable crops {t['unusable_crop']} vs {t['unusable_crop_without_border']}); cosine drift p50 {t['cosine_drift_p50']:.4f}, p95 {t['cosine_drift_p95']:.4f}, max {t['cosine_drift_max']:.4f}")
    result["seconds"] = round(time.time() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
