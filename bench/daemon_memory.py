"""Memory over a long daemon run: RSS after the first 500 frames and after 10,000.

Frames are door-camera frames built from dataset photos (or the demo portraits) as visits: one
person (ten of the forty faces are enrolled staff) for 6 frames, then an empty doorway for 30, fed
through the daemon's real per-frame path (detect -> ... -> decide -> actuate -> audit) with the
log-only actuator, on a 15 fps replay clock.

    python bench/daemon_memory.py               # 10,000 frames
    python bench/daemon_memory.py --quick       # 200 frames
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from frame_latency import door_frames  # noqa: E402

from gatekeeper.door.actuate import LogOnlyActuator  # noqa: E402
from gatekeeper.app import App  # noqa: E402
from gatekeeper.config import Settings  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def visits(faces: list[np.ndarray], total: int, rng: np.random.Generator) -> list[np.ndarray]:
    """People walking up one at a time: 6 frames of a face, then 2 s of empty doorway (a new track)."""
    empty = np.full((480, 640, 3), 110, np.uint8)
    frames: list[np.ndarray] = []
    while len(frames) < total:
        frames += [faces[int(rng.integers(len(faces)))]] * 6 + [empty] * 30
    return frames[:total]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/daemon_memory.json"))
    args = parser.parse_args()
    total = 200 if args.quick else args.frames
    checkpoint = min(500, total // 2)
    pool = door_frames(40, seed=1) + [np.full((480, 640, 3), 110, np.uint8)] * 10
    with tempfile.TemporaryDirectory() as tmp:
        gk = App(Settings(data_dir=Path(tmp), unknown_log_interval_s=5.0))
        enrolled = gk.enrollment
        for i, frame in enumerate(pool[:10]):  # ten of the faces are staff
            face = enrolled.pipeline.analyse(frame)
            if face and face[0].embedding is not None:
                from gatekeeper.services.enrollment import PhotoResult

                enrolled.enroll(f"staff-{i}", f"Staff {i}", [PhotoResult(f"frame-{i}", embedding=face[0].embedding)], force=True)
        daemon = gk.daemon(LogOnlyActuator())
        started = time.perf_counter()
        marks = {}
        for n, frame in enumerate(visits(pool[:40], total, np.random.default_rng(0)), 1):
            daemon.process_frame(frame, now=n / 15.0)
            if n in (checkpoint, total):
                marks[n] = rss_mib()
        seconds = time.perf_counter() - started
    growth = (marks[total] - marks[checkpoint]) / marks[checkpoint]
    row = {"frames": total, f"rss_mib_after_{checkpoint}": marks[checkpoint], f"rss_mib_after_{total}": marks[total], "growth": growth, "seconds": seconds, "decisions": daemon.stats.decisions, "errors": daemon.stats.errors}
    print(f"RSS after {checkpoint} frames {marks[checkpoint]:.1f} MiB, after {total} frames {marks[total]:.1f} MiB: {growth:+.2%} ({seconds:.0f} s, {daemon.stats.errors} errors)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
