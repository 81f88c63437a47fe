"""Start-up time of each `gatekeeper` command, as an admin types it (a fresh process each run).

Database-only commands (`people`, `audit`, `config`) must not load torch, MTCNN or faiss: the goal
is at most 1.5 s each on the project's 2-core machine. Commands that look at faces load the models
and are listed for comparison. The installation is a temporary one with one enrolled person
(the demo's public-domain portrait) and a few audit rows.

    python bench/cli_startup.py [--runs 5] [--out bench/results/cli_startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.demo import astronaut  # noqa: E402

DATABASE_ONLY = [
    ["people", "list"],
    ["people", "show", "emp-1"],
    ["audit"],
    ["audit", "--summary"],
    ["audit", "verify"],
    ["config", "show"],
]
FACE_STACK = [["verify", "{photo}"]]
GOAL_S = 1.5


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "gatekeeper", *argv], env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if done.returncode not in (0, 1):
            raise SystemExit(f"gatekeeper {' '.join(argv)} failed ({done.returncode}): {done.stderr}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run each (CI)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/cli_startup.json"))
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "eileen.png"
        cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
        env = {**os.environ, "GATEKEEPER_DATA_DIR": str(Path(tmp) / "data")}
        subprocess.run([sys.executable, "-m", "gatekeeper", "enroll", "--photo", str(photo), "--id", "emp-1", "--name", "Eileen Collins"], env=env, check=True, capture_output=True)
        rows = []
        for kind, commands in (("database only", DATABASE_ONLY), ("face models", FACE_STACK)):
            for argv in commands:
                argv = [a.replace("{photo}", str(photo)) for a in argv]
                times = timed(argv, env, runs)
                shown = " ".join("PHOTO" if a == str(photo) else a for a in argv)
                rows.append({"command": f"gatekeeper {shown}", "kind": kind, "median_s": statistics.median(times), "max_s": max(times), "runs": runs})
    print(f"{'command':<34} {'kind':<14} {'median s':>9} {'max s':>7}  goal")
    for r in rows:
        goal = ("met" if r["max_s"] <= GOAL_S else "MISSED") if r["kind"] == "database only" else "-"
        print(f"{r['command']:<34} {r['kind']:<14} {r['median_s']:9.2f} {r['max_s']:7.2f}  {goal}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpu": os.cpu_count(), "python": sys.version.split()[0], "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
