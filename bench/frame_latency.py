"""Per-frame latency of the door pipeline on 640x480 frames with one face at door distance.

Prints p50/p95 per stage (detect, align, embed, search, decide+total) and frames per second, for
1 and 2 threads and for detection settings (downscale before detection, minimum face size).
Faces come from LFW when the datasets are present, else from the demo's public-domain portraits.

    python bench/frame_latency.py            # full run: 200 frames per setting
    python bench/frame_latency.py --quick    # CI: a few frames, keeps the script working
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

from gatekeeper.align import align_face  # noqa: E402
from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.detect import FaceDetector  # noqa: E402
from gatekeeper.encoder import FaceEncoder  # noqa: E402
from gatekeeper.gallery import GalleryIndex  # noqa: E402
from gatekeeper.quality import QualityGate, assess  # noqa: E402

STAGES = ("detect", "align+quality", "embed", "search", "total")


def door_frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """640x480 frames, each with one face enlarged to door distance (eyes >= 40 px apart)."""
    import cv2

    from gatekeeper.training.recipes import datasets_root

    rng = np.random.default_rng(seed)
    lfw = datasets_root() / "lfw"
    if lfw.is_dir():
        photos = sorted(lfw.glob("*/*.jpg"))
        picks = [photos[i] for i in rng.choice(len(photos), n, replace=len(photos) < n)]
        faces = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in picks]
        size = 400
    else:
        from gatekeeper.demo import astronaut, grace_hopper

        faces = [astronaut(), grace_hopper()] * (n // 2 + 1)
        size = 420
    frames = []
    for face in faces[:n]:
        frame = np.full((480, 640, 3), 100, np.uint8) + rng.integers(0, 10, (480, 640, 3), dtype=np.uint8)
        h = size
        w = int(face.shape[1] * h / face.shape[0])
        person = cv2.resize(face, (w, h))
        x, y = (640 - w) // 2, (480 - h) // 2
        frame[y : y + h, x : x + w] = person
        frames.append(frame)
    return frames


def run_setting(frames: list[np.ndarray], encoder: FaceEncoder, gallery: GalleryIndex, threads: int, max_side: int, min_face: int) -> dict[str, object]:
    torch.set_num_threads(threads)
    detector = FaceDetector(min_face_px=min_face, max_side=max_side)
    gate = QualityGate(Settings())
    detector.detect(frames[0])  # warm-up: first-call allocations are not door latency
    encoder.embed(np.zeros((1, 112, 112, 3), np.uint8))
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    found = 0
    for frame in frames:
        t0 = time.perf_counter()
        faces = [f for f in detector.detect(frame) if f.score >= 0.9]
        t1 = time.perf_counter()
        crops = [align_face(frame, f.landmarks) for f in faces]
        usable = [c for f, c in zip(faces, crops) if not gate.problems(assess(f, c))]
        t2 = time.perf_counter()
        emb = encoder.embed(np.stack(usable)) if usable else np.zeros((0, encoder.dim), np.float32)
        t3 = time.perf_counter()
        gallery.search(emb, k=2)
        t4 = time.perf_counter()
        found += bool(usable)
        for stage, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
            times[stage].append(dt * 1000)
    row: dict[str, object] = {"threads": threads, "detect_max_side": max_side, "min_face_px": min_face, "frames": len(frames), "usable_face_rate": found / len(frames)}
    for stage in STAGES:
        row[f"{stage}_p50_ms"] = float(np.percentile(times[stage], 50))
        row[f"{stage}_p95_ms"] = float(np.percentile(times[stage], 95))
    row["fps"] = 1000.0 / float(np.mean(times["total"]))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a handful of frames (CI)")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("bench/results/frame_latency.json"))
    args = parser.parse_args()
    n = 6 if args.quick else args.frames
    frames = door_frames(n)
    encoder = FaceEncoder()
    rng = np.random.default_rng(0)
    gallery_vecs = rng.normal(size=(1000, encoder.dim)).astype(np.float32)
    gallery_vecs /= np.linalg.norm(gallery_vecs, axis=1, keepdims=True)
    gallery = GalleryIndex.build(gallery_vecs, np.arange(1000), [f"p{i}" for i in range(1000)], encoder.dim, 0, "bench")
    settings = [(1, 640, 40), (2, 640, 40), (2, 640, 80), (2, 320, 40), (1, 320, 40)]
    if args.quick:
        settings = settings[1:2]
    rows = [run_setting(frames, encoder, gallery, *s) for s in settings]
    header = f"{'threads':>7} {'max_side':>8} {'min_face':>8} | " + " | ".join(f"{s:>13} p50/p95" for s in STAGES) + " |   fps | face found"
    print(header)
    for r in rows:
        cells = " | ".join(f"{r[f'{s}_p50_ms']:7.1f}/{r[f'{s}_p95_ms']:<13.1f}" for s in STAGES)
        print(f"{r['threads']:>7} {r['detect_max_side']:>8} {r['min_face_px']:>8} | {cells} | {r['fps']:5.1f} | {r['usable_face_rate']:.0%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": _machine(), "rows": rows}, indent=2))
    print(f"wrote {args.out}")


def _machine() -> dict[str, object]:
    import os
    import platform

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__}


if __name__ == "__main__":
    main()
