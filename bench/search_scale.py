"""1:N search at gallery sizes 1k..1M: exact flat index vs HNSW vs IVF (FAISS).

Random unit vectors of the encoder's dimension stand in for people (there are not a million real
identities to enroll); queries are gallery vectors plus noise, like a new photo of an enrolled
person. Prints build time, query p50/p95 (one query at a time, as the door asks), memory and
recall@1 against exact search.

    python bench/search_scale.py             # 1k, 10k, 100k, 1M
    python bench/search_scale.py --quick     # CI: 1k and 10k
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

DIM = 128


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_index(kind: str, n: int) -> faiss.Index:
    if kind == "flat":
        return faiss.IndexFlatIP(DIM)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
        return index
    nlist = max(16, int(4 * np.sqrt(n)))
    index = faiss.index_factory(DIM, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
    faiss.extract_index_ivf(index).nprobe = max(8, nlist // 32)
    return index


def measure(kind: str, gallery: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, object]:
    index = make_index(kind, len(gallery))
    t0 = time.perf_counter()
    if not index.is_trained:
        index.train(gallery[: min(len(gallery), 100_000)])
    index.add(gallery)
    build = time.perf_counter() - t0
    lat, hits = [], 0
    for q, t in zip(queries, truth):
        s = time.perf_counter()
        _, ids = index.search(q[None], 1)
        lat.append((time.perf_counter() - s) * 1000)
        hits += int(ids[0, 0] == t)
    memory = len(faiss.serialize_index(index)) / 2**20
    return {"index": kind, "n": len(gallery), "build_s": build, "query_p50_ms": float(np.percentile(lat, 50)), "query_p95_ms": float(np.percentile(lat, 95)), "memory_mib": memory, "recall_at_1": hits / len(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/search_scale.json"))
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'n':>9} {'index':>6} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7} {'MiB':>7} {'recall@1':>8}")
    for n in sizes:
        gallery = unit(rng.normal(size=(n, DIM)).astype(np.float32))
        pick = rng.choice(n, min(args.queries, n), replace=False)
        queries = unit(gallery[pick] + rng.normal(scale=0.06, size=(len(pick), DIM)).astype(np.float32))
        exact = faiss.IndexFlatIP(DIM)
        exact.add(gallery)
        truth = exact.search(queries, 1)[1][:, 0]  # recall is measured against exact search
        for kind in ("flat", "hnsw", "ivf"):
            r = measure(kind, gallery, queries, truth)
            rows.append(r)
            print(f"{n:>9} {kind:>6} {r['build_s']:8.2f} {r['query_p50_ms']:7.3f} {r['query_p95_ms']:7.3f} {r['memory_mib']:7.1f} {r['recall_at_1']:8.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
