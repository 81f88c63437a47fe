"""Which layers of the int8 door encoder hold its error: the shipped export (every convolution int8,
the final projection float32) against exports that leave more convolutions in float32.

Each variant is made by the same code as `gatekeeper train encoder-int8` (same calibration faces)
and measured on LFW faces of people in evaluation pairs (never calibrated on): cosine of its
mirror-averaged embedding to the fp32 one, the error of an int8 probe's similarity to fp32
templates of other faces (mean and spread), and the time of one face with its mirror, 1 thread.

Needs LFW and the face cache (`gatekeeper train cache`).

    python bench/int8_layers.py [--faces 600] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from onnxruntime import InferenceSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gatekeeper  # noqa: E402,F401  (first: it sets OpenMP's wait policy before torch loads)

from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.training.encoder_int8 import calibration_faces, export_int8, loosest_door_threshold  # noqa: E402
from gatekeeper.training.facecache import load_cache  # noqa: E402
from gatekeeper.training.recipes import cache_root  # noqa: E402
from gatekeeper.vision.onnx_encoder import EMBED_BATCH, door_session, run_export  # noqa: E402
from gatekeeper.vision.pipeline import FacePipeline  # noqa: E402

VARIANTS: dict[str, tuple[int, ...]] = {
    "shipped (projection float32)": (),
    "+ first convolution float32": (0,),
    "+ first two float32": (0, 1),
    "+ last two float32": (-2, -1),
    "+ last four float32": (-4, -3, -2, -1),
    "+ first and last two float32": (0, -2, -1),
}


def per_face_ms(session: InferenceSession, crop: np.ndarray, repeats: int) -> float:
    """One face with its mirror, as the door embeds it."""
    run_export(session, crop[None], flip=True)
    start = time.perf_counter()
    for _ in range(repeats):
        run_export(session, crop[None], flip=True)
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=600)
    parser.add_argument("--quick", action="store_true", help="150 calibration faces, 40 test faces, two variants (CI)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/int8_layers.json"))
    args = parser.parse_args()
    cache_dir = cache_root() / "lfw"
    if not cache_dir.exists():
        print(f"skipped: no LFW face cache at {cache_dir} (gatekeeper train cache)")
        return
    pipeline = FacePipeline(Settings(liveness="off"))
    full = pipeline.encoder
    calibration = calibration_faces(pipeline, 150 if args.quick else 400)  # the shift needs >= 100 pairs near the door thresholds
    lfw = load_cache(cache_dir)
    rng = np.random.default_rng(0)
    test = lfw.crops[rng.choice(len(lfw.crops), 40 if args.quick else args.faces, replace=False)]
    reference = full.embed(test, flip=True)
    left, right = rng.integers(0, len(test), 3000), rng.integers(0, len(test), 3000)
    others = left != right
    rows = []
    variants = dict(list(VARIANTS.items())[:2]) if args.quick else VARIANTS
    with tempfile.TemporaryDirectory() as tmp:
        for name, convs in variants.items():
            path = Path(tmp) / "variant.onnx"
            export_int8(full, calibration, path, loosest_door_threshold(full), float_convs=convs)
            session = door_session(path, threads=1)
            ours = np.concatenate([run_export(session, chunk, flip=True) for chunk in np.array_split(test, max(1, len(test) // EMBED_BATCH))])
            cosine = np.sum(ours * reference, axis=1)
            error = (np.sum(ours[left] * reference[right], axis=1) - np.sum(reference[left] * reference[right], axis=1))[others]
            row = {"variant": name, "float_convs": list(convs), "cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min()),
                   "similarity_error_mean": float(error.mean()), "similarity_error_std": float(error.std()), "face_with_mirror_ms": per_face_ms(session, test[0], 10 if args.quick else 100)}
            rows.append(row)
            print(f"{name:<30} cosine mean {row['cosine_mean']:.5f} min {row['cosine_min']:.5f} | similarity error {row['similarity_error_mean']:+.5f} ± {row['similarity_error_std']:.5f} | {row['face_with_mirror_ms']:.2f} ms", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"test_faces": len(test), "calibration_faces": len(calibration), "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
