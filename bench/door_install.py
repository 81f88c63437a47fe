"""The door install without torch against the full one: disk size, and start-up to a decision.

Each ``--venv`` is a virtual environment holding gatekeeper, made beforehand:

    python -m venv /tmp/door && /tmp/door/bin/pip install --no-deps . && /tmp/door/bin/pip install -r requirements/door.txt
    python -m venv /tmp/full && /tmp/full/bin/pip install .
    python bench/door_install.py --venv /tmp/door --venv /tmp/full [--runs 5]

For each: the size of its site-packages, the peak memory of the door process, and the wall time of ``gatekeeper run`` (YuNet, int8
encoder, passive liveness) from process start to exit on a folder of one door frame with the
enrolled person in it (a fresh process each run: imports, models, database, gallery, one decision).
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
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.demo import astronaut  # noqa: E402
from tests.conftest import door_frame  # noqa: E402

DOOR = {"GATEKEEPER_DOOR_DETECTOR": "yunet", "GATEKEEPER_ENCODER_PRECISION": "int8", "GATEKEEPER_LIVENESS": "passive"}


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def door_run(venv: Path, frames: Path, env: dict[str, str]) -> tuple[float, float]:
    """One `gatekeeper run` over the frames: wall seconds, and the process's peak resident memory
    in MB (its own rusage, reaped with wait4, so runs of different installs do not mix)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(venv / "bin" / "gatekeeper"), "run", "--source", str(frames)], env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"{venv}: gatekeeper run failed: {err.read()[-2000:].decode(errors='replace')}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, action="append", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/door_install.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "frames").mkdir()
        cv2.imwrite(str(root / "photo.png"), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "frames" / "0.png"), cv2.cvtColor(door_frame(astronaut(), np.random.default_rng(0)), cv2.COLOR_RGB2BGR))
        env = {**os.environ, "GATEKEEPER_DATA_DIR": str(root / "data"), **DOOR}
        subprocess.run([sys.executable, "-m", "gatekeeper", "enroll", "--photo", str(root / "photo.png"), "--id", "emp-0042"], env=env, check=True, capture_output=True)
        for venv in args.venv:
            site = next((venv / "lib").glob("python3*/site-packages"))
            runs, peaks = [], []
            for _ in range(args.runs + 1):  # the first run warms the disk cache: not counted
                seconds, peak_mb = door_run(venv, root / "frames", env)
                runs.append(seconds)
                peaks.append(peak_mb)
            has_torch = (site / "torch").is_dir()
            row = {"venv": str(venv), "torch_installed": has_torch, "site_packages_mb": round(folder_size(site) / 1e6), "start_to_decision_s_median": round(statistics.median(runs[1:]), 2),
                   "peak_rss_mb_median": round(statistics.median(peaks[1:])), "runs": args.runs}
            rows.append(row)
            print(f"{venv}: torch {'installed' if has_torch else 'absent'}, site-packages {row['site_packages_mb']:,} MB, `gatekeeper run` start to first decision and exit {row['start_to_decision_s_median']:.2f} s, "
                  f"peak memory {row['peak_rss_mb_median']} MB (medians of {args.runs})", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"door_settings": DOOR, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
