"""Which torch thread count and OpenMP wait policy should a shared door box use?

Frame -> decision latency (the product's own FacePipeline.analyse plus the gallery search, on
640x480 door frames) for every combination of door {MTCNN + fp32 encoder, YuNet + int8 encoder} x
threads {1, 2} x OMP_WAIT_POLICY {PASSIVE, ACTIVE} x {idle, one CPU-bound neighbour process}
(torch's threads, and ONNX Runtime's for the int8 encoder). Each combination runs in a fresh child process, because
OpenMP reads its wait policy once, when torch starts.

    python bench/threads_under_load.py [--frames 100] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


CONFIGS = {"mtcnn fp32": ("mtcnn", "fp32"), "yunet int8": ("yunet", "int8")}  # (door_detector, encoder_precision)


def child(frames: int, threads: int, loaded: bool, config: str) -> dict[str, float]:
    from frame_latency import door_frames
    from load import busy_neighbour

    from gatekeeper.app import App
    from gatekeeper.config import Settings
    from gatekeeper.match.gallery import GalleryIndex

    detector, precision = CONFIGS[config]
    pipeline = App(Settings(threads=threads, door_detector=detector, encoder_precision=precision)).pipeline
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(1000, pipeline.embedding_dim)).astype(np.float32)
    gallery = GalleryIndex.build(vecs / np.linalg.norm(vecs, axis=1, keepdims=True), np.arange(1000), [f"p{i}" for i in range(1000)], pipeline.embedding_dim, 0, "bench")
    shots = door_frames(frames)
    for frame in shots[:3]:
        pipeline.analyse(frame)  # warm-up
    times = []
    with busy_neighbour(1 if loaded else 0):
        for frame in shots:
            start = time.perf_counter()
            faces = [f for f in pipeline.analyse(frame) if f.usable]
            if faces:
                gallery.search(np.stack([f.embedding for f in faces]), k=2)
            times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)), "max_ms": float(np.max(times))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="a handful of frames, one combination (CI)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "threads_under_load.json")
    parser.add_argument("--child", nargs=4, metavar=("FRAMES", "THREADS", "LOADED", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), int(args.child[1]), args.child[2] == "1", args.child[3])))
        return
    frames = 5 if args.quick else args.frames
    combos = [(1, "PASSIVE", False, c) for c in CONFIGS] if args.quick else [(t, w, l, c) for c in CONFIGS for l in (False, True) for w in ("PASSIVE", "ACTIVE") for t in (1, 2)]
    rows = []
    print(f"{'door':<11} {'load':<10} {'wait policy':<12} {'threads':>7} | {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    for threads, policy, loaded, config in combos:
        env = {**os.environ, "OMP_WAIT_POLICY": policy}
        out = subprocess.run([sys.executable, __file__, "--child", str(frames), str(threads), "1" if loaded else "0", config], env=env, check=True, capture_output=True, text=True)
        row = {"door": config, "threads": threads, "omp_wait_policy": policy, "loaded": loaded, **json.loads(out.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(f"{config:<11} {'1 busy' if loaded else 'idle':<10} {policy:<12} {threads:>7} | {row['p50_ms']:7.1f} {row['p95_ms']:7.1f} {row['max_ms']:7.1f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"frames": frames, "cores": os.cpu_count(), "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
