"""gatekeeper side by side with face_recognition (dlib), on this machine, in one run.

1. Per-face encode time: the door's DoorNet (int8, with its mirror) on an aligned crop vs dlib's
   ResNet descriptor on the same face, with 1 and 2 threads (dlib's runs on one core either way).
2. Per-frame end to end on the same 640x480 door frames: gatekeeper in the door configurations of
   CONFIGS (shipped YuNet + int8 DoorNet with liveness and without; the earlier MTCNN + fp32) vs
   face_recognition (HOG detector + 5-point shape + descriptor).
   Both idle and with one CPU-bound neighbour process (bench/load.py), the systems alternating
   frame by frame so the load hits both alike.
LFW accuracy of both whole pipelines is bench/lfw_pipelines.py.

Needs the `bench` extra (dlib-bin, face-recognition-models) and `face_recognition` installed with
--no-deps (its own dependency on source-built dlib is what dlib-bin replaces).

    python bench/vs_dlib.py [--frames 100] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gatekeeper  # noqa: E402,F401  (first: it sets OpenMP's wait policy before torch loads)

from frame_latency import door_frames  # noqa: E402

from load import busy_neighbour  # noqa: E402

from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.vision.pipeline import FacePipeline  # noqa: E402


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
    photos = FacePipeline(Settings())
    face = photos.detect(frames[0], photos.photo)[0]
    crop = photos.align(frames[0], face)[0][None]
    rect = dlib.rectangle(*(int(v) for v in face.box))
    shape = sp(frames[0], rect)
    out = {"dlib_ms": timed(lambda: net.compute_face_descriptor(frames[0], shape), repeats)}
    for threads in (1, 2):
        # As the door embeds: its encoder (encoder_precision) and mirror setting (door_flip_average).
        door = FacePipeline(Settings(threads=threads))
        out[f"gatekeeper_{threads}t_ms"] = timed(lambda: door.door_embedder.embed(crop, flip=door.settings.door_flip_average), repeats)
    return out


# The door configurations timed against face_recognition: the shipped door (YuNet + MTCNN's last
# stage, int8 encoder, passive liveness on a second thread beside the encoder), the same with
# liveness off (face_recognition has none), and the previous default (MTCNN, fp32 torch encoder).
CONFIGS: dict[str, dict[str, str]] = {
    "gatekeeper shipped (yunet int8 +liveness)": {},
    "gatekeeper yunet int8, liveness off": {"liveness": "off"},
    "gatekeeper mtcnn fp32, liveness off": {"door_detector": "mtcnn", "encoder_precision": "fp32", "liveness": "off"},
}


def frame_times(frames: list[np.ndarray], loaded: bool) -> dict[str, float]:
    """Every system on the same frames, alternating frame by frame, so load hits all alike."""
    import face_recognition

    def door(settings: Settings):  # type: ignore[no-untyped-def]
        pipeline = FacePipeline(settings)  # the daemon's recognition stages and settings

        def run(frame: np.ndarray) -> int:
            return len([f for f in pipeline.analyse(frame) if f.usable])

        return run

    def theirs(frame: np.ndarray) -> int:
        boxes = face_recognition.face_locations(frame, model="hog")
        face_recognition.face_encodings(frame, boxes, model="small")
        return len(boxes)

    systems = [(name, door(Settings(**config))) for name, config in CONFIGS.items()] + [("face_recognition", theirs)]  # type: ignore[arg-type]
    times: dict[str, list[float]] = {name: [] for name, _ in systems}
    found = dict.fromkeys(times, 0)
    for _, fn in systems:
        fn(frames[0])
    with busy_neighbour(1 if loaded else 0):
        for frame in frames:
            for name, fn in systems:
                s = time.perf_counter()
                found[name] += fn(frame) > 0
                times[name].append((time.perf_counter() - s) * 1000)
    result = {}
    for name, t in times.items():
        result[f"{name}_p50_ms"] = float(np.percentile(t, 50))
        result[f"{name}_p95_ms"] = float(np.percentile(t, 95))
        result[f"{name}_face_found"] = found[name] / len(frames)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100)
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
    fr = {}
    for condition, loaded in (("idle", False), ("loaded", True)):
        fr[condition] = r = frame_times(frames, loaded)
        print(f"per frame, {condition} (640x480, detect+align+quality+encode), p50 / p95 ms; face_recognition {r['face_recognition_p50_ms']:.1f} / {r['face_recognition_p95_ms']:.1f}")
        for name in CONFIGS:
            print(f"  {name:<42} {r[f'{name}_p50_ms']:6.1f} / {r[f'{name}_p95_ms']:6.1f}   face_recognition's p95 / ours: x{r['face_recognition_p95_ms'] / r[f'{name}_p95_ms']:.1f}   faces found {r[f'{name}_face_found']:.0%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"encode": enc, "frames": fr, "threads": Settings().threads}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
