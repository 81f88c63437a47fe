"""The duplicate-person rule at enrollment: how often it refuses a distinct newcomer, and how often
it catches an enrolled face re-enrolled under a second id, as the gallery grows.

Held-out LFW identities (View 2 folds 1-5: the shipped model, cross-validation model A, never
trained on them) with 3+ detected photos, embedded from the cached crops as enrollment embeds
photos (flip-averaged). Each trial: a gallery of N people enrolled from 2 photos each; a distinct
newcomer from 2 photos (refused = false alarm); the 3rd photo of a gallery person under a new id
(caught = the attack stopped). The shipped rule: every new photo and the new mean against every
enrolled photo at the model card's ``duplicate_threshold``, and the new mean against everyone's
mean at its ``match_threshold``. Rows with one threshold apply it to both comparisons.

    python bench/duplicate_rule.py [--trials 200] [--sizes 100 300]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.vision.encoder import FaceEncoder  # noqa: E402
from gatekeeper.training.facecache import load_cache  # noqa: E402
from gatekeeper.training.recipes import CV_GROUPS, cache_root, lfw_pairs  # noqa: E402


def people_embeddings(encoder: FaceEncoder) -> list[np.ndarray]:
    lfw = load_cache(cache_root() / "lfw")
    out = []
    for name in sorted(lfw_pairs().identities_in_folds(CV_GROUPS["A"])):
        idx = np.flatnonzero((lfw.labels == name) & lfw.detected)
        if len(idx) >= 3:
            out.append(encoder.embed(lfw.crops[idx[:3]]))
    return out


def _mean(v: np.ndarray) -> np.ndarray:
    m = v.mean(axis=0)
    return m / np.linalg.norm(m)


def clashes(queries: np.ndarray, mean: np.ndarray, photos: np.ndarray, means: np.ndarray, photo_th: float, mean_th: float) -> bool:
    return bool((queries @ photos.T).max() >= photo_th or (mean @ means.T).max() >= mean_th)


def trial_rates(people: list[np.ndarray], size: int, trials: int, photo_th: float, mean_th: float, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    refused = caught = 0
    for _ in range(trials):
        order = rng.permutation(len(people))
        gallery, newcomer = order[:size], people[order[size]]
        photos = np.concatenate([people[i][:2] for i in gallery])
        means = np.stack([_mean(people[i][:2]) for i in gallery])
        new_mean = _mean(newcomer[:2])
        refused += clashes(np.concatenate([newcomer[:2], new_mean[None]]), new_mean, photos, means, photo_th, mean_th)
        alias = people[gallery[0]][2]
        caught += clashes(np.stack([alias, alias]), alias, photos, means, photo_th, mean_th)
    return refused / trials, caught / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--quick", action="store_true", help="CI: a few trials, to keep the script working")
    parser.add_argument("--out", type=Path, default=Path("bench/results/duplicate_rule.json"))
    args = parser.parse_args()
    try:
        encoder = FaceEncoder()
        people = people_embeddings(encoder)
    except FileNotFoundError as exc:
        print(f"skipped: {exc}")
        return
    cal = encoder.card.calibration
    rules = [("shipped", cal["duplicate_threshold"], cal["match_threshold"])] + [(f"both at {t}", t, t) for t in (0.925, 0.933, 0.9404, 0.9523)]
    trials, sizes = (5, [20]) if args.quick else (args.trials, args.sizes)
    rows = []
    print(f"{len(people)} held-out LFW identities with 3+ photos; {trials} trials per cell")
    for name, photo_th, mean_th in rules:
        for size in sizes:
            refused, caught = trial_rates(people, size, trials, photo_th, mean_th)
            rows.append({"rule": name, "photo_threshold": photo_th, "mean_threshold": mean_th, "gallery": size, "newcomer_refused": refused, "second_id_caught": caught})
            print(f"{name:<16} photos >= {photo_th:.4f}, means >= {mean_th:.4f}  gallery {size:>4}: distinct newcomer refused {refused:6.1%}, second id caught {caught:6.1%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"identities": len(people), "trials": trials, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
