"""Door replays from held-out photos: track fusion against per-frame votes, same frames, same gallery.

Enrolls N LFW people of View-2 folds 1-5 (never trained on by the shipped model) from ONE photo
each, then replays visits: each visit is 3 frames made from 3 *other* photos of the person (pose,
light and expression change between frames, as they do while someone walks up), placed at door
distance. Strangers (other LFW people, never enrolled) visit the same way. Both decision rules run
the product's daemon on identical frames and count: staff granted as themselves, staff granted as
someone else, strangers granted.

    python bench/door_replay.py [--people 60] [--strangers 60] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.door.actuate import LogOnlyActuator  # noqa: E402
from gatekeeper.app import App  # noqa: E402
from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.core import Decision  # noqa: E402
from gatekeeper.vision.images import read_rgb  # noqa: E402
from gatekeeper.training.lfw import read_pairs  # noqa: E402
from gatekeeper.training.recipes import datasets_root  # noqa: E402


def people(min_photos: int, folds: set[int]) -> list[tuple[str, list[Path]]]:
    root = datasets_root() / "lfw"
    names = sorted(read_pairs(root / "pairs.txt").identities_in_folds(folds))
    out = [(n, sorted((root / n).glob("*.jpg"))) for n in names]
    return [(n, p) for n, p in out if len(p) >= min_photos]


def door_frame(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import cv2

    frame = np.full((480, 640, 3), 110, np.uint8) + rng.integers(0, 8, (480, 640, 3), dtype=np.uint8)
    person = cv2.resize(photo, (400, 400), interpolation=cv2.INTER_CUBIC)
    x, y = 120 + int(rng.integers(-15, 16)), 40 + int(rng.integers(-5, 6))
    frame[y : y + 400, x : x + 400] = person
    return frame


def replay(rule: str, staff: list[tuple[str, list[Path]]], strangers: list[tuple[str, list[Path]]], workdir: Path) -> dict[str, object]:
    gk = App(Settings(data_dir=workdir / rule, decision_rule=rule, unknown_log_interval_s=0.0, door_id="bench", liveness="off"))  # the replayed visitors are photos: this bench measures matching
    enrolled = []
    refused = []
    for name, photos in staff:
        result = gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])])
        if result.enrolled:
            enrolled.append((name, photos))
        else:
            refused.append(f"{name}: {result.reason}")
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    rng = np.random.default_rng(0)
    right = wrong = stranger_in = 0
    for i, (name, photos) in enumerate(enrolled + strangers):
        is_staff = i < len(enrolled)
        frames = [door_frame(read_rgb(p), rng) for p in (photos[1:4] if is_staff else photos[:3])]
        for j, frame in enumerate(frames):
            for v in daemon.process_frame(frame, 10.0 * i + 0.1 * j):
                if v.decision == Decision.GRANTED:
                    right += is_staff and v.person_id == name
                    wrong += is_staff and v.person_id != name
                    stranger_in += not is_staff
    return {"rule": rule, "staff": len(enrolled), "refused_at_enrollment": refused, "strangers": len(strangers), "staff_granted": right, "staff_granted_as_other": wrong, "strangers_granted": stranger_in,
            "threshold": gk.thresholds.match, "margin": gk.thresholds.margin}


def duplicate_refusals(staff: list[tuple[str, list[Path]]], photos_each: int, workdir: Path) -> dict[str, object]:
    """Enroll distinct people from several photos each: how many does the duplicate-person rule
    wrongly refuse as "looks like already enrolled"?"""
    gk = App(Settings(data_dir=workdir / "duplicates"))
    refused = []
    for name, photos in staff:
        result = gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(p) for p in photos[:photos_each]])
        if not result.enrolled:
            refused.append(f"{name}: {result.reason}")
    return {"people": len(staff), "photos_each": photos_each, "refused": refused}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--strangers", type=int, default=60)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/door_replay.json"))
    args = parser.parse_args()
    if not (datasets_root() / "lfw" / "pairs.txt").is_file():
        print(f"LFW not found under {datasets_root()}; nothing to replay")
        return
    n, m = (4, 4) if args.quick else (args.people, args.strangers)
    staff = people(4, {0, 1, 2, 3, 4})[:n]
    strangers = people(3, {0, 1, 2, 3, 4})[-m:]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rule in ("vote", "fusion"):
            rows.append(r := replay(rule, staff, strangers, Path(tmp)))
            print(f"{rule:<7} staff granted {r['staff_granted']}/{r['staff']}  as someone else {r['staff_granted_as_other']}  strangers granted {r['strangers_granted']}/{r['strangers']}"
                  f"  (refused at enrollment: {len(r['refused_at_enrollment'])})", flush=True)
        many = people(6, {0, 1, 2, 3, 4})[: 4 if args.quick else args.people]
        dup = duplicate_refusals(many, 5, Path(tmp))
        print(f"duplicate-person rule: {len(dup['refused'])} of {dup['people']} distinct people refused when enrolled from {dup['photos_each']} photos each: {dup['refused']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"replays": rows, "duplicates": dup}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
