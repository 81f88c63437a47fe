"""1:N search at gallery sizes 1k..1M: exact flat index vs HNSW vs IVF (FAISS).

Where there are enough real faces (the LFW and CelebA caches, embedded by the shipped encoder),
the gallery and the queries are real embeddings (queries: other photos than the gallery's);
beyond that, random unit vectors of the same dimension stand in for people, with queries made of
gallery vectors plus noise (cosine ~0.8 to their person, like a new photo). Random vectors have no
cluster structure, the hard case for approximate search. One query at a time, as the door asks.
HNSW and IVF are built once per size and measured at several search depths (efSearch, nprobe).
Prints build time, query p50/p95, memory and recall@1 against exact search.

    python bench/search_scale.py             # 1k, 10k, 100k, 1M
    python bench/search_scale.py --quick     # CI: 1k and 10k, random vectors
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIM = 128
HNSW_M, HNSW_EF_CONSTRUCTION = 32, 80
EF_SEARCH = (32, 64, 128, 256)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_embeddings() -> np.ndarray | None:
    """Every cached LFW and CelebA face through the shipped encoder, or None without caches."""
    from gatekeeper.vision.encoder import FaceEncoder
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.recipes import cache_root

    try:
        caches = [load_cache(cache_root() / name) for name in ("lfw", "celeba")]
    except FileNotFoundError:
        return None
    encoder = FaceEncoder()
    return np.concatenate([encoder.embed(c.crops[c.detected]) for c in caches])


def timed_queries(index: faiss.Index, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    lat, hits = [], 0
    for q, t in zip(queries, truth):
        s = time.perf_counter()
        _, ids = index.search(q[None], 1)
        lat.append((time.perf_counter() - s) * 1000)
        hits += int(ids[0, 0] == t)
    return {"query_p50_ms": float(np.percentile(lat, 50)), "query_p95_ms": float(np.percentile(lat, 95)), "recall_at_1": hits / len(queries)}


def measure_size(gallery: np.ndarray, queries: np.ndarray, source: str) -> list[dict[str, object]]:
    n = len(gallery)
    exact = faiss.IndexFlatIP(DIM)
    t0 = time.perf_counter()
    exact.add(gallery)
    flat_build = time.perf_counter() - t0
    truth = exact.search(queries, 1)[1][:, 0]  # recall is measured against exact search
    base = {"n": n, "vectors": source}
    rows = [{**base, "index": "flat", "setting": "exact", "build_s": flat_build, "memory_mib": n * DIM * 4 / 2**20, **timed_queries(exact, queries, truth)}]

    hnsw = faiss.IndexHNSWFlat(DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    t0 = time.perf_counter()
    hnsw.add(gallery)
    build = time.perf_counter() - t0
    memory = len(faiss.serialize_index(hnsw)) / 2**20
    for ef in EF_SEARCH:
        hnsw.hnsw.efSearch = ef
        rows.append({**base, "index": "hnsw", "setting": f"M{HNSW_M} efSearch {ef}", "build_s": build, "memory_mib": memory, **timed_queries(hnsw, queries, truth)})

    nlist = max(16, int(4 * np.sqrt(n)))
    ivf = faiss.index_factory(DIM, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    ivf.train(gallery[: min(n, max(100_000, 40 * nlist))])
    ivf.add(gallery)
    build = time.perf_counter() - t0
    memory = len(faiss.serialize_index(ivf)) / 2**20
    for nprobe in sorted({max(1, nlist // 64), max(1, nlist // 16), max(1, nlist // 4)}):
        faiss.extract_index_ivf(ivf).nprobe = nprobe
        rows.append({**base, "index": "ivf", "setting": f"nlist {nlist} nprobe {nprobe}", "build_s": build, "memory_mib": memory, **timed_queries(ivf, queries, truth)})
    return rows


def gallery_and_queries(n: int, real: np.ndarray | None, n_queries: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    if real is not None and len(real) >= n + n_queries:
        order = rng.permutation(len(real))
        return real[order[:n]], real[order[n : n + n_queries]], "real"
    gallery = unit(rng.normal(size=(n, DIM)).astype(np.float32))
    pick = rng.choice(n, min(n_queries, n), replace=False)
    return gallery, unit(gallery[pick] + rng.normal(scale=0.06, size=(len(pick), DIM)).astype(np.float32)), "random"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/search_scale.json"))
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    real = None if args.quick else real_embeddings()
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'n':>9} {'vectors':>7} {'index':>5} {'setting':<22} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7} {'MiB':>7} {'recall@1':>8}", flush=True)
    for n in sizes:
        gallery, queries, source = gallery_and_queries(n, real, args.queries, rng)
        for r in measure_size(gallery, queries, source):
            rows.append(r)
            print(f"{n:>9} {source:>7} {r['index']:>5} {r['setting']:<22} {r['build_s']:8.2f} {r['query_p50_ms']:7.3f} {r['query_p95_ms']:7.3f} {r['memory_mib']:7.1f} {r['recall_at_1']:8.3f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"threads": args.threads, "queries": args.queries, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
