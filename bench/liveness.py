"""Liveness at the door in ISO/IEC 30107-3 terms: how many live people are granted and how fast,
and how many printed photos get in, through the door's own pipeline (door detector, quality
gate, the MiniFASNet pair, the eye measurement) and its own policy (``DoorPolicy``: 2 of 3
frames, the passive score averaged over a visit's first frames, the blink if the mode asks for
one). 95 % Clopper-Pearson intervals throughout.

Visits, each a sequence of frames in capture order:

- **natural live visits** (not chosen for blinking): NUAA bona fide sequences, cut into visits of
  ``--visit-frames`` consecutive frames (4 s at the 15 fps assumed for NUAA, whose capture rate is
  not published); subjects 0001-0009 tune, 0010-0016 are reported. Beside them the ZJU eye-blink
  clips (live people, 30 fps, *selected because they blink*: the blink check's best case).
- **printed-photo attacks**: every NUAA print attempt (ID, glasses, position, session), its first
  45 frames; held-out subjects apart.
- **still images** (an LFW photo sliding and growing across the frame): what a photo pasted into
  the camera's video stream looks like, an *injection* attack on the camera link, reported apart.

Per liveness mode (``passive``, ``passive+blink`` with its window) the door's verdict on each
visit and the time from its first usable frame to the grant (frame times; each decision frame
adds the daemon's processing time, bench/frame_latency.py). The operating points are the shipped
ones (models/liveness.json); the rule that chose them is re-run on the tuning half and printed.

Not measured, because there is no data here: screen replay (a phone playing a video), masks, IR.

    python bench/liveness.py --nuaa ../liveness-data/nuaa --zju ../liveness-data/zju
    python bench/liveness.py --quick            # the NUAA and ZJU samples in ../shared (CI)
    python bench/liveness.py --evidence bench/results/liveness.json   # re-score without re-reading
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import beta

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.core import Candidate, Decision, DoorPolicy, Vote  # noqa: E402
from gatekeeper.core.policy import PolicyRules, TrackVotes  # noqa: E402
from gatekeeper.match.thresholds import blink_depth as shipped_blink_depth  # noqa: E402
from gatekeeper.match.thresholds import liveness_threshold  # noqa: E402
from gatekeeper.training.recipes import datasets_root  # noqa: E402
from gatekeeper.vision.images import read_rgb  # noqa: E402
from gatekeeper.vision.liveness import blink_depth  # noqa: E402
from gatekeeper.vision.pipeline import FacePipeline  # noqa: E402

TUNE = {f"{i:04d}" for i in range(1, 10)}
NUAA_FPS = 15.0  # NUAA publishes no capture rate; its frames are webcam captures with gaps in the numbering
PRINT_FRAMES = 45  # of each print attempt, in order (3 s at 15 fps)
STILL_FRAMES = 90  # of each still-image visit
STAFF = "staff"  # the liveness bench assumes the face matched: matching is bench/gallery_scale.py's
REPO = Path(__file__).resolve().parents[1]

Frame = list  # [seconds since the visit's first frame, live score, left eye, right eye] (eyes None: not measurable)


@dataclass(frozen=True)
class Mode:
    name: str
    blink: bool
    window_s: float = 4.0


MODES = (Mode("passive", False), Mode("passive+blink", True, 4.0), Mode("passive+blink", True, 2.0))


def clopper_pearson(errors: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    if trials == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    low = 0.0 if errors == 0 else float(beta.ppf(a, errors, trials - errors + 1))
    high = 1.0 if errors == trials else float(beta.ppf(1 - a, errors + 1, trials - errors))
    return low, high


def rate(hits: int, trials: int) -> str:
    low, high = clopper_pearson(hits, trials)
    return f"{hits}/{trials} = {100 * hits / max(trials, 1):5.1f} % [{100 * low:.1f}, {100 * high:.1f}]"


# -- evidence: what the door's pipeline sees in each frame of a visit --------------------------
def frame_evidence(pipeline: FacePipeline, images: Iterable[np.ndarray], fps: float) -> list[Frame]:
    """Per frame with a usable face: its time, the main face's live score and eye openness."""
    out = []
    for i, image in enumerate(images):
        faces = [f for f in pipeline.analyse(image) if f.liveness is not None]
        if faces:
            eyes = faces[0].eyes if faces[0].eyes is not None else (None, None)
            out.append([round(i / fps, 4), round(float(faces[0].liveness), 5), *(None if e is None else round(float(e), 5) for e in eyes)])
    return out


def nuaa_visits(pipeline: FacePipeline, root: Path, visit_frames: int) -> list[dict[str, object]]:
    """Bona fide sequences cut into visits of ``visit_frames`` consecutive frames; print attempts,
    their first PRINT_FRAMES frames."""
    attempts: dict[tuple[str, str, str, str, str], list[tuple[int, Path]]] = defaultdict(list)
    for kind in ("real", "print"):
        for path in (root / kind).rglob("*.jpg"):
            sid, glasses, pos, session, pic = path.stem.split("_")
            attempts[(kind, sid, glasses, pos, session)].append((int(pic), path))
    rows = []
    for (kind, sid, glasses, pos, session), items in sorted(attempts.items()):
        paths = [p for _, p in sorted(items)]
        chunks = [paths[i : i + visit_frames] for i in range(0, len(paths) - visit_frames // 2, visit_frames)] if kind == "real" else [paths[:PRINT_FRAMES]]
        for k, chunk in enumerate(chunks):
            frames = frame_evidence(pipeline, (read_rgb(p) for p in chunk), NUAA_FPS)
            rows.append({"kind": kind, "subject": sid, "attempt": f"{sid}_{glasses}_{pos}_{session}", "visit": k, "frames": frames})
    return rows


def zju_clips(pipeline: FacePipeline, root: Path, seconds: float) -> list[dict[str, object]]:
    rows = []
    for clip in sorted(p for p in root.rglob("*") if p.suffix in (".avi", ".mp4")):
        cap = cv2.VideoCapture(str(clip))
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        images = []
        while len(images) < seconds * fps:
            ok, frame = cap.read()
            if not ok:
                break
            images.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))  # every frame: the daemon keeps up with ~20-25 fps here (bench/frame_latency.py)
        cap.release()
        rows.append({"clip": str(clip.relative_to(root)), "frames": frame_evidence(pipeline, images, fps)})
    return rows


def still_photos(pipeline: FacePipeline, count: int) -> list[dict[str, object]]:
    """Still-image visits: LFW photos sliding and growing across the frame."""
    from tests.conftest import door_frame

    rng = np.random.default_rng(0)
    photos = sorted((datasets_root() / "lfw").glob("*/*.jpg"))
    rows = []
    for path in [photos[i] for i in rng.choice(len(photos), count, replace=False)]:
        image = read_rgb(path)
        rows.append({"photo": path.name, "frames": frame_evidence(pipeline, (door_frame(image, rng, size=360 + t) for t in range(STILL_FRAMES)), NUAA_FPS)})
    return rows


# -- the door's verdict on a visit --------------------------------------------------------------
def door_rules(mode: Mode, threshold: float, depth: float, settings: Settings) -> PolicyRules:
    return PolicyRules(match=0.5, margin=0.0, votes_needed=settings.votes_needed, votes_window=settings.votes_window, cooldown_s=0.0,
                       liveness=threshold, blink=depth if mode.blink else None, liveness_window_s=mode.window_s)


def door_visit(frames: list[Frame], rules: PolicyRules) -> tuple[bool, float | None]:
    """(granted, seconds from the first usable frame to the decision) as the daemon decides: the
    passive nets score a visit's first votes_window frames, the eyes are measured on its later
    ones (blink depth over the newest 16), and the policy waits for the blink up to its window.
    A visit that ends undecided is not granted (denied-incomplete at the door)."""
    policy, track, eyes = DoorPolicy(rules), TrackVotes(), []
    start = frames[0][0] if frames else 0.0
    for t, score, left, right in frames:
        passive = len(track.live_scores) < rules.votes_window
        depth = None
        if not passive and rules.blink is not None and left is not None:
            eyes.append((left, right))
            depth = blink_depth(eyes[-16:])
        verdict = policy.judge(track, Vote.person(STAFF), [Candidate(STAFF, 1.0)], t, score if passive else None, depth)
        if verdict is not None:
            return verdict.decision == Decision.GRANTED, t - start
    return False, None


def deepest_blink(frames: list[Frame], window: int) -> float:
    """The deepest blink anywhere in a visit (eyes as the door measures them: not on its first frames)."""
    eyes = [(f[2], f[3]) for f in frames[window:] if f[2] is not None]
    return max((blink_depth(eyes[max(0, t - 15) : t + 1]) for t in range(len(eyes))), default=0.0)


def tuning_rule(nuaa: list[dict[str, object]], stills: list[dict[str, object]], window: int) -> tuple[float, float]:
    """What the calibration rule gives on the tuning data: the 5th percentile of the tuning
    subjects' bona fide frame scores; 0.02 above the deepest 'blink' of the tuning half of the stills."""
    scores = [f[1] for r in nuaa if r["kind"] == "real" and r["subject"] in TUNE for f in r["frames"]]
    depth = max((deepest_blink(r["frames"], window) for r in stills[::2]), default=0.0) + 0.02
    return (float(np.percentile(scores, 5)) if scores else float("nan")), depth


def judge_all(groups: dict[str, list[dict[str, object]]], rules: PolicyRules) -> dict[str, dict[str, object]]:
    out = {}
    for name, rows in groups.items():
        verdicts = [door_visit(r["frames"], rules) for r in rows]
        times = [t for ok, t in verdicts if ok]
        out[name] = {"visits": len(rows), "granted": sum(ok for ok, _ in verdicts), "ci95": clopper_pearson(sum(ok for ok, _ in verdicts), len(rows)),
                     "median_s": float(np.median(times)) if times else None, "p95_s": float(np.percentile(times, 95)) if times else None}
    return out


def groups_of(nuaa: list[dict[str, object]], clips: list[dict[str, object]], stills: list[dict[str, object]], quick: bool) -> dict[str, list[dict[str, object]]]:
    held = [r for r in nuaa if quick or r["subject"] not in TUNE]
    natural = [r for r in held if r["kind"] == "real"]
    return {"NUAA natural live visits (held-out subjects)": natural, "ZJU live clips (chosen for blinking)": clips,
            "natural live visits, NUAA held-out + ZJU": natural + clips,
            "NUAA printed-photo attempts (held-out subjects)": [r for r in held if r["kind"] == "print"],
            "NUAA printed-photo attempts (all 15 subjects)": [r for r in nuaa if r["kind"] == "print"],
            "still images in the video stream (injection)": stills[1::2]}


def report_mode(mode: Mode, judged: dict[str, dict[str, object]], latency_ms: float | None) -> None:
    label = mode.name + (f" ({mode.window_s:g} s window)" if mode.blink else "")
    print(f"\n{label}")
    for name, r in judged.items():
        verb = "granted" if "live" in name and "injection" not in name else "let in"
        timing = f"   time to grant p50 {r['median_s']:.2f} s, p95 {r['p95_s']:.2f} s" if r["median_s"] is not None and verb == "granted" else ""
        print(f"  {name:50s} {verb} {rate(r['granted'], r['visits'])}{timing}")
    if latency_ms is not None:
        print(f"  (frame times; the decision frame adds its processing, p95 {latency_ms:.0f} ms: bench/frame_latency.py)")


def read_evidence(path: Path) -> dict[str, list[dict[str, object]]]:
    """The per-visit evidence an earlier run kept, or exit naming the file and what is wrong."""
    try:
        evidence = json.loads(path.read_text())["evidence"]
        if not all(isinstance(evidence.get(k), list) for k in ("nuaa", "zju", "stills")) or not all("frames" in r for r in evidence["nuaa"]):
            raise KeyError("nuaa, zju and stills with per-frame evidence")
        return evidence
    except OSError as exc:
        sys.exit(f"--evidence {path}: cannot read it ({exc.strerror})")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        sys.exit(f"--evidence {path}: not a bench/liveness.py result with per-frame evidence ({type(exc).__name__}: {exc}); runs before 2026-12-04 kept none")


def decision_latency_ms() -> float | None:
    try:
        return float(json.loads((REPO / "bench/results/frame_latency.json").read_text())["door_visits"]["decision_p95_ms"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = Path(os.environ.get("GATEKEEPER_LIVENESS_DATA", REPO.parent / "liveness-data"))
    parser.add_argument("--nuaa", type=Path, default=data / "nuaa")
    parser.add_argument("--zju", type=Path, default=data / "zju")
    parser.add_argument("--quick", action="store_true", help="the NUAA and ZJU samples in ../shared/datasets/liveness (CI: not held-out figures)")
    parser.add_argument("--visit-frames", type=int, default=60, help="consecutive NUAA bona fide frames per natural visit")
    parser.add_argument("--out", type=Path, default=Path("bench/results/liveness.json"))
    parser.add_argument("--door-detector", choices=("mtcnn", "yunet"), default=Settings().door_detector, help="the detector door frames go through (default: the shipped one)")
    parser.add_argument("--evidence", type=Path, help="re-score the per-frame evidence of an earlier run's JSON instead of reading the videos again")
    args = parser.parse_args()
    if args.quick:
        args.nuaa, args.zju = datasets_root() / "liveness" / "nuaa-sample", datasets_root() / "liveness" / "zju-blink-sample"
    settings = Settings(liveness="passive+blink", door_detector=args.door_detector)
    t0 = time.time()
    if args.evidence:
        earlier = read_evidence(args.evidence)
        nuaa, clips, stills = earlier["nuaa"], earlier["zju"], earlier["stills"]
    elif not args.nuaa.is_dir():
        print(f"skipped: no NUAA data at {args.nuaa} (the manual's Liveness page, docs/liveness.md, says how to fetch and prepare it)")
        return
    else:
        pipeline = FacePipeline(settings)  # measures both checks on every frame; the policy picks what each mode uses
        nuaa = nuaa_visits(pipeline, args.nuaa, 20 if args.quick else args.visit_frames)
        clips = zju_clips(pipeline, args.zju, 4.0) if args.zju.is_dir() else []
        stills = still_photos(pipeline, 20 if args.quick else 80)
    threshold, depth = liveness_threshold(settings), shipped_blink_depth(settings)
    tuned_threshold, tuned_depth = tuning_rule(nuaa, stills, settings.votes_window)
    print(f"shipped operating points: passive {threshold:.4f}, blink depth {depth:.3f} (the rule re-run here: passive {tuned_threshold:.4f} "
          f"on NUAA subjects 0001-0009's bona fide frames, blink {tuned_depth:.3f} on the tuning half of the stills)")
    if args.quick:
        print("quick mode: the samples in ../shared, not held-out figures")
    groups = groups_of(nuaa, clips, stills, args.quick)
    latency = decision_latency_ms()
    results = {}
    for mode in MODES:
        judged = judge_all(groups, door_rules(mode, threshold, depth, settings))
        report_mode(mode, judged, latency)
        results[f"{mode.name} {mode.window_s:g}s" if mode.blink else mode.name] = judged
    print(f"\n({f're-scored from {args.evidence}' if args.evidence else f'{time.time() - t0:.0f} s'}; not measured: screen replay, masks, IR, injection defences)")
    report = {"passive_threshold": threshold, "blink_depth": depth, "rule_rerun": {"passive_threshold": tuned_threshold, "blink_depth": tuned_depth},
              "nuaa_fps_assumed": NUAA_FPS, "visit_frames": args.visit_frames, "quick": args.quick, "modes": results,
              "evidence": {"nuaa": nuaa, "zju": clips, "stills": stills}}  # per frame: re-analysable without a re-run
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
