"""LFW View 2 through two whole pipelines, scored by the same protocol code, in one run:

- dlib's own (what face_recognition does): HOG detector (1 upsample), dlib's 5-point shape model,
  its 150x150 chip (padding 0.25), the ResNet descriptor, Euclidean distance. Where HOG finds no
  face, the photo's central 110x110 box (LFW's face position) stands in, as face_recognition users do.
- gatekeeper's: MTCNN, the 5-point similarity warp onto the model's template, the shipped encoder
  (flip-averaged), cosine similarity, on the cached aligned crops (`gatekeeper train cache`).

The shipped model must not have trained on LFW to be scored on all ten folds; DoorNet v2's
fine-tuned weights did (cross-validated figures come from `gatekeeper eval lfw`), so this bench
scores the port as shipped (`--model runs/port/model.pt`, from `gatekeeper train port`) by default.
dlib's own pipeline takes ~15 minutes on one core.

    python bench/lfw_pipelines.py [--model PATH_OR_NAME] [--limit-folds N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.vision.encoder import FaceEncoder  # noqa: E402
from gatekeeper.vision.images import read_rgb  # noqa: E402
from gatekeeper.training.facecache import load_cache  # noqa: E402
from gatekeeper.training.verification import ten_fold_report  # noqa: E402
from gatekeeper.training.recipes import cache_root, datasets_root, lfw_pairs  # noqa: E402


def dlib_descriptors(photos: list[str], root: Path | None = None, central: float = 0.44) -> tuple[np.ndarray, int]:
    """dlib's descriptor of each photo under ``root`` (default LFW). Where HOG finds no face, the
    central box covering ``central`` of the photo's side stands in (LFW's face: 110 of 250 px)."""
    import dlib
    import face_recognition_models as models

    root = root or datasets_root() / "lfw"
    finder = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    net = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    out, missed = [], 0
    for rel in photos:
        image = read_rgb(root / rel)
        boxes = finder(image, 1)
        if len(boxes):
            box = max(boxes, key=lambda b: b.area())
        else:
            missed += 1
            h, w = image.shape[:2]
            half_w, half_h = int(w * central / 2), int(h * central / 2)
            box = dlib.rectangle(w // 2 - half_w, h // 2 - half_h, w // 2 + half_w, h // 2 + half_h)
        chip = dlib.get_face_chip(image, shape(image, box), size=150, padding=0.25)
        out.append(np.asarray(net.compute_face_descriptor(chip), np.float32))
    return np.stack(out), missed


def report(scores: np.ndarray, same: np.ndarray, fold: np.ndarray) -> dict[str, float]:
    r = ten_fold_report(scores, same, fold)
    return {"accuracy_mean": r.mean_accuracy, "accuracy_std": r.std_accuracy, "tar_at_far_1e-3": r.tar_at_far[1e-3], "tar_at_far_1e-2": r.tar_at_far[1e-2], "auc": r.auc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/port/model.pt")
    parser.add_argument("--out", type=Path, default=Path("bench/results/lfw_pipelines.json"))
    args = parser.parse_args()
    pairs = lfw_pairs()
    photos = sorted(set(pairs.left) | set(pairs.right))
    row = {p: i for i, p in enumerate(photos)}
    left, right = np.array([row[p] for p in pairs.left]), np.array([row[p] for p in pairs.right])

    cache = load_cache(cache_root() / "lfw")
    where = {p: i for i, p in enumerate(cache.paths.tolist())}
    encoder = FaceEncoder(args.model, threads=2)
    t = time.time()
    ours = encoder.embed(cache.crops[[where[p] for p in photos]])
    ours_s = time.time() - t
    results = {"gatekeeper": {**report((ours[left] * ours[right]).sum(1), pairs.same, pairs.fold), "model": encoder.version, "seconds": ours_s}}
    print(f"gatekeeper ({encoder.version}): {results['gatekeeper']['accuracy_mean']:.2%} ± {results['gatekeeper']['accuracy_std']:.2%}  TAR@1e-3 {results['gatekeeper']['tar_at_far_1e-3']:.2%}", flush=True)

    t = time.time()
    theirs, missed = dlib_descriptors(photos)
    results["dlib"] = {**report(-np.linalg.norm(theirs[left] - theirs[right], axis=1), pairs.same, pairs.fold), "hog_missed_photos": missed, "seconds": time.time() - t}
    print(f"dlib's own pipeline: {results['dlib']['accuracy_mean']:.2%} ± {results['dlib']['accuracy_std']:.2%}  TAR@1e-3 {results['dlib']['tar_at_far_1e-3']:.2%}  (HOG missed {missed} of {len(photos)} photos)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
