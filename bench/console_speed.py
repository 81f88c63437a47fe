"""The console's two heavy pages, through the real app (FastAPI test client, SQLite): the people
page with 10,000 people enrolled, and audit queries with filters over 1,000,000 rows.

    python bench/console_speed.py                 # 10,000 people, 1,000,000 audit rows
    python bench/console_speed.py --quick         # 1,000 people, 20,000 rows: that it runs (CI)

Bars (issue #16): people page p95 <= 200 ms; audit query with filters p95 <= 300 ms. The rows are
written straight into the tables (the chain is not what is measured here).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore", category=DeprecationWarning)

from gatekeeper.app import App  # noqa: E402
from gatekeeper.config import Settings  # noqa: E402

DECISIONS = ["granted"] * 6 + ["denied-unknown"] * 3 + ["denied-quality", "denied-spoof", "denied-not-permitted"]


def fill(gk: App, people: int, rows: int) -> None:
    from sqlalchemy import insert

    from gatekeeper.storage.models import AuditEvent, Person, Photo

    rng = random.Random(0)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with gk.sessions.begin() as s:
        s.execute(insert(Person), [{"person_id": f"emp-{i:05d}", "name": f"Person {i}", "vector_id": i, "template": b"", "model_version": "bench", "created_at": t0, "updated_at": t0} for i in range(people)])
        s.execute(insert(Photo), [{"person_id": f"emp-{i:05d}", "source": "p.jpg", "sha256": "0" * 64, "embedding": b"", "model_version": "bench", "quality": {}, "created_at": t0} for i in range(people) for _ in range(2)])
    for start in range(0, rows, 50_000):
        batch = []
        for i in range(start, min(rows, start + 50_000)):
            decision = rng.choice(DECISIONS)
            batch.append({"event_id": i + 2, "at": t0 + timedelta(seconds=30 * i), "door_id": f"door-{rng.randrange(20)}", "decision": decision, "person_id": f"emp-{rng.randrange(people):05d}" if decision != "denied-unknown" else None, "best_similarity": 0.9, "prev_hash": "0" * 64, "row_hash": "0" * 64})
        with gk.sessions.begin() as s:
            s.execute(insert(AuditEvent), batch)


def timed(client, url: str, reps: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    client.get(url)  # warm
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        response = client.get(url)
        out.append(time.perf_counter() - t)
        assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return np.array(out) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.people, args.rows, args.reps = 1000, 20_000, 5
    from fastapi.testclient import TestClient

    from gatekeeper.services.accounts import Accounts
    from gatekeeper.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        gk = App(Settings(data_dir=Path(tmp)))
        Accounts(gk.sessions, gk.audit, "bench").create_user("bench", "bench-password-123", "auditor")  # before the raw rows: its row heads the chain
        t = time.perf_counter()
        fill(gk, args.people, args.rows)
        print(f"filled {args.people} people, {args.rows} audit rows in {time.perf_counter() - t:.0f} s")
        client = TestClient(create_app(gk))
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "bench", "password": "bench-password-123", "csrf": token})
        urls = {
            "people page": "/people",
            "people page 100": "/people?page=100" if args.people >= 5000 else "/people?page=10",
            "people search": "/people?q=emp-0423",
            "audit page (no filter)": "/audit",
            "audit decision filter": "/audit?decision=denied-spoof",
            "audit person filter": "/audit?person=emp-00042",
            "audit door + decision": "/audit?door=door-7&decision=granted",
            "audit door + decision, page 50": "/audit?door=door-7&decision=granted&page=50",
            "API audit person": "/api/v1/audit?person=emp-00042&limit=100",
        }
        figures = {}
        for label, url in urls.items():
            ms = timed(client, url, args.reps)
            figures[label] = {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}
            print(f"{label:34s} p50 {np.percentile(ms, 50):7.1f} ms  p95 {np.percentile(ms, 95):7.1f} ms   {url}")
        gk.sessions.kw["bind"].dispose()
    print("bars: people page p95 <= 200 ms (10,000 people); audit with filters p95 <= 300 ms (1,000,000 rows)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"people": args.people, "rows": args.rows, "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
