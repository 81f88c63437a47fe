"""gatekeeper side by side with face_recognition (dlib), on this machine, in one run.

1. Per-face encode time: DoorNet on an aligned crop vs dlib's ResNet descriptor on the same face,
   with 1 and 2 threads (torch threads; dlib's descriptor runs on one core either way).
2. Per-frame end to end on the same 640x480 door frames: gatekeeper (MTCNN + align + DoorNet)
   vs face_recognition (HOG detector + 5-point shape + descriptor).
3. LFW 10-fold accuracy for both: gatekeeper's cross-validated figure (models/reports/lfw.json,
   from `gatekeeper eval lfw`), dlib's from its descriptors of the same cached faces (MTCNN box ->
   dlib 5-point shape -> descriptor), scored with the same protocol code.

Needs the `bench` extra (dlib-bin, face-recognition-models) and `face_recognition` installed with
--no-deps (its own dependency on source-built dlib is what dlib-bin replaces).

    python bench/vs_dlib.py [--frames 60] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from frame_latency import door_frames  # noqa: E402

from gatekeeper.align import align_face  # noqa: E402
from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.detect import FaceDetector  # noqa: E402
from gatekeeper.encoder import FaceEncoder  # noqa: E402
from gatekeeper.pipeline import door_profile  # noqa: E402


def timed(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats * 1000


def encode_times(frames: list[np.ndarray], repeats: int) -> dict[str, float]:
    import dlib
    import face_recognition_models as frm

    sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    detector, encoder = FaceDetector(), FaceEncoder()
    face = max(detector.detect(frames[0]), key=lambda f: f.score)
    crop = align_face(frames[0], face.landmarks)[None]
    rect = dlib.rectangle(*(int(v) for v in face.box))
    shape = sp(frames[0], rect)
    out = {"dlib_ms": timed(lambda: net.compute_face_descriptor(frames[0], shape), repeats)}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        out[f"gatekeeper_{threads}t_ms"] = timed(lambda: encoder.embed(crop), repeats)
    return out


def frame_times(frames: list[np.ndarray]) -> dict[str, float]:
    import face_recognition

    torch.set_num_threads(2)
    detector, encoder = FaceDetector.from_profile(door_profile(Settings())), FaceEncoder()  # as the daemon runs

    def ours(frame: np.ndarray) -> int:
        faces = [f for f in detector.detect(frame) if f.score >= 0.9]
        if faces:
            encoder.embed(np.stack([align_face(frame, f.landmarks) for f in faces]))
        return len(faces)

    def theirs(frame: np.ndarray) -> int:
        boxes = face_recognition.face_locations(frame, model="hog")
        face_recognition.face_encodings(frame, boxes, model="small")
        return len(boxes)

    result = {}
    for name, fn in (("gatekeeper", ours), ("face_recognition", theirs)):
        fn(frames[0])
        t, found = [], 0
        for frame in frames:
            s = time.perf_counter()
            found += fn(frame) > 0
            t.append((time.perf_counter() - s) * 1000)
        result[f"{name}_p50_ms"] = float(np.percentile(t, 50))
        result[f"{name}_p95_ms"] = float(np.percentile(t, 95))
        result[f"{name}_face_found"] = found / len(frames)
    return result


def lfw_accuracy() -> dict[str, object]:
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.lfw import ten_fold_report
    from gatekeeper.training.recipes import cache_root, lfw_pairs

    out: dict[str, object] = {}
    ours = Path("models/reports/lfw.json")
    if ours.is_file():
        out["gatekeeper"] = json.loads(ours.read_text())
    cache_dir = cache_root() / "lfw"
    if cache_dir.is_dir():
        cache, pairs = load_cache(cache_dir), lfw_pairs()
        where = {p: i for i, p in enumerate(cache.paths.tolist())}
        t = cache.teacher
        left, right = np.array([where[p] for p in pairs.left]), np.array([where[p] for p in pairs.right])
        ok = np.isfinite(t[left]).all(1) & np.isfinite(t[right]).all(1)
        # dlib's descriptors are compared by Euclidean distance: negate it so larger = more similar.
        scores = -np.linalg.norm(t[left] - t[right], axis=1)
        scores[~ok] = -10.0
        report = ten_fold_report(scores, pairs.same, pairs.fold)
        out["dlib"] = {"accuracy_mean": report.mean_accuracy, "accuracy_std": report.std_accuracy, "tar_at_far_1e-3": report.tar_at_far[1e-3], "auc": report.auc, "pairs_without_descriptor": int((~ok).sum())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/vs_dlib.json"))
    args = parser.parse_args()
    try:
        import dlib  # noqa: F401
        import face_recognition  # noqa: F401
    except ImportError as exc:
        print(f"face_recognition/dlib not installed ({exc}); see the docstring")
        sys.exit(0 if args.quick else 1)  # CI's quick run only keeps the script working
    frames = door_frames(4 if args.quick else args.frames)
    enc = encode_times(frames, 3 if args.quick else 50)
    print(f"per-face encode: dlib {enc['dlib_ms']:.1f} ms | gatekeeper {enc['gatekeeper_1t_ms']:.2f} ms (1 thread), {enc['gatekeeper_2t_ms']:.2f} ms (2 threads) | ratio {enc['gatekeeper_1t_ms'] / enc['dlib_ms']:.3f} / {enc['gatekeeper_2t_ms'] / enc['dlib_ms']:.3f}")
    fr = frame_times(frames)
    print(f"per frame (640x480, detect+encode): gatekeeper p50 {fr['gatekeeper_p50_ms']:.1f} / p95 {fr['gatekeeper_p95_ms']:.1f} ms | face_recognition p50 {fr['face_recognition_p50_ms']:.1f} / p95 {fr['face_recognition_p95_ms']:.1f} ms | speed-up x{fr['face_recognition_p50_ms'] / fr['gatekeeper_p50_ms']:.1f}")
    acc = lfw_accuracy()
    for name, figures in acc.items():
        print(f"LFW 10-fold {name}: {figures['accuracy_mean']:.2%} ± {figures['accuracy_std']:.2%}, TAR@FAR1e-3 {figures['tar_at_far_1e-3']:.2%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"encode": enc, "frames": fr, "lfw": acc}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
