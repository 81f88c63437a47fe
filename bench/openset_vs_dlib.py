"""Open-set identification, gatekeeper vs dlib's own pipeline, on the same photos in one run.

The protocol of `gatekeeper eval openset`: for each CelebA half, one enrollment photo for half of
its identities, their other photos as mated probes; the half's other identities and half of the
held-out UTKFace faces as strangers. FNIR at FPIR 1 %: the share of mated probes not ranked first
above the threshold that lets 1 % of strangers match someone. gatekeeper's side uses the
cross-validated pair (each half scored by the model that never trained on it) on the cached MTCNN
crops: with `--probe single` the probes are embedded in one pass, as the door does, and the
enrollment photos flip-averaged, as enrollment does. dlib's side: HOG detector, 5-point shape,
150-px chip, descriptor, on the original photos (about 20 minutes on one core), scored by
Euclidean distance (face_recognition's) and by cosine.

    python bench/openset_vs_dlib.py --model-a models/doornet-v2.pt --model-b runs/v2-cv-b/model.pt
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

from lfw_pipelines import dlib_descriptors  # noqa: E402

from gatekeeper.vision.encoder import FaceEncoder  # noqa: E402
from gatekeeper.training.facecache import CachedFaces, load_cache  # noqa: E402
from gatekeeper.training.evaluate import open_set_result  # noqa: E402
from gatekeeper.training.recipes import cache_root, celeba_half, datasets_root  # noqa: E402


def protocol(celeba: CachedFaces, group: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the enrollment photos, the mated probes and the CelebA strangers."""
    labels = celeba.labels
    names = sorted(celeba_half(labels, group))
    enrolled, other = names[0::2], names[1::2]
    gallery = np.array([np.flatnonzero((labels == n) & celeba.detected)[0] for n in enrolled])
    mated = np.setdiff1d(np.flatnonzero(np.isin(labels, enrolled)), gallery)
    return gallery, mated, np.flatnonzero(np.isin(labels, other))


def scores(mated_sim: np.ndarray, stranger_sim: np.ndarray, gallery_names: np.ndarray, mated_names: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(top-1 score and correctness of each mated probe, top-1 score of each stranger)."""
    top = mated_sim.argmax(axis=1)
    return mated_sim[np.arange(len(top)), top], gallery_names[top] == mated_names, stranger_sim.max(axis=1)


def figures(top1: np.ndarray, correct: np.ndarray, stranger_top1: np.ndarray) -> dict[str, float]:
    """The figures `gatekeeper eval openset` reports, by the same code."""
    r = open_set_result(top1, correct, np.zeros(int(correct.sum())), stranger_top1, 0)
    return {"rank1": r.rank1, "mated_probes": r.mated, "strangers": r.strangers, **{f"fnir_at_fpir_{k:g}": v[1] for k, v in r.fnir_at_fpir.items()}}


def gatekeeper_side(models: dict[str, Path], celeba: CachedFaces, utk: CachedFaces, utk_rows: dict[str, np.ndarray], probe: str) -> dict[str, float]:
    parts = []
    for group, path in models.items():
        encoder = FaceEncoder(path, threads=2)
        gallery, mated, others = protocol(celeba, group)
        gal = encoder.embed(celeba.crops[gallery])  # enrollment: flip-averaged, as the manifest says
        embed = encoder.embed_single if probe == "single" else encoder.embed
        probes = embed(celeba.crops[np.concatenate([mated, others])])
        strangers = np.concatenate([probes[len(mated):], embed(utk.crops[utk_rows[group]])])
        parts.append(scores(probes[: len(mated)] @ gal.T, strangers @ gal.T, celeba.labels[gallery], celeba.labels[mated]))
    return figures(*(np.concatenate(x) for x in zip(*parts)))


def dlib_side(celeba: CachedFaces, utk: CachedFaces, utk_rows: dict[str, np.ndarray], quick: bool) -> dict[str, dict[str, float]]:
    groups = {g: protocol(celeba, g) for g in ("A", "B")}
    if quick:
        groups = {g: (gal, mated[:20], others[:20]) for g, (gal, mated, others) in groups.items()}
        utk_rows = {g: rows[:20] for g, rows in utk_rows.items()}
    rows = np.unique(np.concatenate([np.concatenate(v) for v in groups.values()]))
    desc, missed_c = dlib_descriptors(celeba.paths[rows].tolist(), datasets_root() / "celeba")
    where = dict(zip(rows.tolist(), desc))
    urows = np.unique(np.concatenate(list(utk_rows.values())))
    udesc, missed_u = dlib_descriptors(utk.paths[urows].tolist(), datasets_root() / "utkface", central=0.9)
    uwhere = dict(zip(urows.tolist(), udesc))
    out = {}
    for metric in ("euclidean", "cosine"):
        parts = []
        for group, (gallery, mated, others) in groups.items():
            gal = np.stack([where[i] for i in gallery])
            probes = np.stack([where[i] for i in np.concatenate([mated, others])] + [uwhere[i] for i in utk_rows[group]])
            sim = _similarity(probes, gal, metric)
            parts.append(scores(sim[: len(mated)], sim[len(mated):], celeba.labels[gallery], celeba.labels[mated]))
        out[metric] = figures(*(np.concatenate(x) for x in zip(*parts)))
    out["hog_missed"] = {"celeba": missed_c, "utkface": missed_u}  # type: ignore[assignment]
    return out


def _similarity(probes: np.ndarray, gallery: np.ndarray, metric: str) -> np.ndarray:
    if metric == "euclidean":
        return -np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=2)
    p = probes / np.linalg.norm(probes, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    return p @ g.T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-a", type=Path, default=Path("models/doornet-v2.pt"))
    parser.add_argument("--model-b", type=Path, default=Path("runs/v2-cv-b/model.pt"))
    parser.add_argument("--skip-dlib", action="store_true")
    parser.add_argument("--quick", action="store_true", help="CI: a few photos, to keep the script working")
    parser.add_argument("--out", type=Path, default=Path("bench/results/openset_vs_dlib.json"))
    args = parser.parse_args()
    try:
        celeba, utk = load_cache(cache_root() / "celeba"), load_cache(cache_root() / "utkface-strangers")
    except FileNotFoundError as exc:
        print(f"skipped: {exc}")
        return
    detected = np.flatnonzero(utk.detected)
    utk_rows = {"A": detected[: len(detected) // 2], "B": detected[len(detected) // 2 :]}
    results: dict[str, object] = {}
    models = {"A": args.model_a, "B": args.model_b}
    if not args.quick and all(p.is_file() for p in models.values()):
        for probe in ("flip", "single"):
            t = time.time()
            results[f"gatekeeper_probe_{probe}"] = {**gatekeeper_side(models, celeba, utk, utk_rows, probe), "seconds": round(time.time() - t, 1)}
            print(f"gatekeeper, probes {probe}: {json.dumps(results[f'gatekeeper_probe_{probe}'])}", flush=True)
    if not args.skip_dlib:
        try:
            import dlib  # noqa: F401
        except ImportError:
            print("dlib side skipped: dlib is not installed (pip install -e '.[bench]')")
        else:
            t = time.time()
            results["dlib"] = {**dlib_side(celeba, utk, utk_rows, args.quick), "seconds": round(time.time() - t, 1)}
            print(f"dlib's own pipeline: {json.dumps(results['dlib'])}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
