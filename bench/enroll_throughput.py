"""Enrollment throughput: LFW photos per second, end to end into the database and the index.

Reads, detects, aligns, checks quality, embeds and stores one person per LFW folder (all of that
person's photos, up to the photo budget), exactly as `gatekeeper enroll` does.

    python bench/enroll_throughput.py              # 1,000 photos
    python bench/enroll_throughput.py --quick      # 40 photos
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.app import App  # noqa: E402
from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.training.recipes import datasets_root  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--workers", type=int, default=2, help="photos embedded side by side")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/enroll_throughput.json"))
    args = parser.parse_args()
    budget = 40 if args.quick else args.photos
    lfw = datasets_root() / "lfw"
    if not lfw.is_dir():
        print(f"LFW not found at {lfw}; set GATEKEEPER_DATASETS")
        sys.exit(0 if args.quick else 1)  # CI's quick run only keeps the script working
    people: list[tuple[str, list[Path]]] = []
    total = 0
    for folder in sorted(p for p in lfw.iterdir() if p.is_dir()):
        photos = sorted(folder.glob("*.jpg"))[: budget - total]
        people.append((folder.name, photos))
        total += len(photos)
        if total >= budget:
            break
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        gk = App(Settings(data_dir=Path(tmp), threads=args.threads, enroll_workers=args.workers))
        gk.enrollment.gallery()  # open the database and load the model before the clock starts
        started = time.perf_counter()
        enrolled = rejected = 0
        with gk.enrollment.batch():
            for pid, _, results in gk.enrollment.embed_people([(pid, pid, photos) for pid, photos in people]):
                rejected += sum(not r.ok for r in results)
                enrolled += gk.enrollment.enroll(pid, pid, results, force=True).enrolled
        seconds = time.perf_counter() - started
        in_index = len(gk.gallery())
    row = {"photos": total, "people": len(people), "enrolled": enrolled, "in_index": in_index, "rejected_photos": rejected, "seconds": seconds, "photos_per_second": total / seconds, "threads": args.threads, "workers": args.workers}
    print(f"{total} photos of {len(people)} people in {seconds:.1f} s: {row['photos_per_second']:.1f} photos/s ({enrolled} enrolled, {rejected} photos rejected, {in_index} vectors in the index)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
