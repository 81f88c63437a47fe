"""Per-frame latency of the door pipeline on 640x480 frames with one face at door distance.

Prints p50/p95 per stage (detect, align, embed, search, total) and frames per second, for 1 and 2
threads, one row per MTCNN detection step added on top of the previous one (minimum face size,
downscaling, MTCNN thresholds, pyramid step, OpenCV resampling: door_detector = mtcnn with the fp32
encoder), so each step's effect shows; then the shipped door (YuNet with MTCNN's last stage, the
int8 encoder), its options, and the shipped door again with one CPU-bound neighbour process (bench/load.py). The door runs the liveness checks on a
second thread beside the encoder (FacePipeline.embed_with_liveness): in those rows the embed column
is both, and an "in turn" row shows them one after the other. For each row also: the
share of frames where a usable face was found, and how far its landmarks moved from the baseline
row's (median and 95th percentile, in % of the eye distance): the price paid in alignment.
Faces come from LFW when the datasets are present, else from the demo's public-domain portraits,
at sizes that put the eyes 43-79 px apart (door distance: >= 40 px).

    python bench/frame_latency.py            # full run: 200 frames per setting
    python bench/frame_latency.py --quick    # CI: a few frames, keeps the script working
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gatekeeper  # noqa: E402,F401  (first: it sets OpenMP's wait policy before torch loads)
import torch  # noqa: E402

from load import busy_neighbour  # noqa: E402

from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.vision.detect import TRAINING_PROFILE, DetectorProfile, FaceDetector, use_opencv_resampling  # noqa: E402
from gatekeeper.match.gallery import GalleryIndex  # noqa: E402
from gatekeeper.vision.pipeline import AnalysedFace, FacePipeline, PipelineProfile, door_profile  # noqa: E402

STAGES = ("detect", "align+quality", "liveness", "embed", "search", "total")


def door_frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """640x480 frames, each with one face enlarged to door distance (eyes >= 40 px apart)."""
    import cv2

    from gatekeeper.training.recipes import datasets_root

    rng = np.random.default_rng(seed)
    lfw = datasets_root() / "lfw"
    if lfw.is_dir():
        photos = sorted(lfw.glob("*/*.jpg"))
        picks = [photos[i] for i in rng.choice(len(photos), n, replace=len(photos) < n)]
        faces = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in picks]
        size = 400
    else:
        from gatekeeper.demo import astronaut, grace_hopper

        faces = [astronaut(), grace_hopper()] * (n // 2 + 1)
        size = 420
    frames = []
    for face in faces[:n]:
        frame = np.full((480, 640, 3), 100, np.uint8) + rng.integers(0, 10, (480, 640, 3), dtype=np.uint8)
        h = int(size * rng.uniform(0.62, 1.15))  # LFW at 400 px: eyes ~69 px apart
        w = int(face.shape[1] * h / face.shape[0])
        person = cv2.resize(face, (w, h))
        x, y = (640 - w) // 2, (480 - h) // 2
        frame[y : y + h, x : x + w] = person
        frames.append(frame)
    return frames


def scheduled_checks(i: int, judged: list[AnalysedFace], liveness: str) -> tuple[list[AnalysedFace], list[AnalysedFace]]:
    """(faces for the passive nets, faces for the eyes) on frame ``i``. With both checks on, the
    door's schedule (DoorDaemon._liveness_plan): the passive nets on a visit's first votes_window
    frames, the eye measurement on its later ones, never both on one frame; otherwise every face
    is offered to both and the row's profile runs the ones it has."""
    if liveness == "off":
        return [], []
    if liveness != "passive+blink":
        return judged, judged
    return (judged, []) if i % VISIT_FRAMES < VOTES_WINDOW else ([], judged)


def run_setting(frames: list[np.ndarray], pipeline: FacePipeline, gallery: GalleryIndex, threads: int, step: str, profile: DetectorProfile | None, opencv: bool, reference: list[np.ndarray | None], flip: bool = True, liveness: str = "passive", beside: bool = True) -> dict[str, object]:
    """Times the product's own pipeline stages on ``frames`` with the detector settings of one step
    (``profile``: MTCNN with these settings and the fp32 torch encoder; None: the shipped door,
    YuNet and the int8 encoder, built with ``threads``)."""
    torch.set_num_threads(threads)
    use_opencv_resampling(opencv)
    shipped = FacePipeline(Settings(threads=threads)) if profile is None else None
    detector = shipped.door.detector if shipped else FaceDetector.from_profile(profile)  # type: ignore[arg-type]
    encoder = shipped.door_embedder if shipped else pipeline.encoder
    stages = PipelineProfile(step, detector, pipeline.door.gate, flip, liveness in ("passive", "passive+blink"), liveness in ("passive+blink", "blink only"), encoder=encoder)
    pipeline.analyse(frames[0], stages)  # warm-up: first-call allocations are not door latency
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    found = 0
    shifts: list[float] = []
    face_counts: list[int] = []
    for i, (frame, ref) in enumerate(zip(frames, reference)):
        t0 = time.perf_counter()
        faces = pipeline.detect(frame, stages)
        t1 = time.perf_counter()
        judged = [pipeline.judge(f, *pipeline.align(frame, f), stages) for f in faces]
        t2 = time.perf_counter()
        passive, eyes = scheduled_checks(i, judged, liveness)
        if beside:  # as the door runs it: the checks on a second thread while the encoder runs
            t2b = t2
            pipeline.embed_with_liveness(frame, judged, stages, passive, eyes)
        else:
            pipeline.check_liveness(frame, stages, passive, eyes)
            t2b = time.perf_counter()
            pipeline.embed(judged, stages)
        emb = np.stack([a.embedding for a in judged if a.usable]) if any(a.usable for a in judged) else np.zeros((0, encoder.dim), np.float32)
        t3 = time.perf_counter()
        gallery.search(emb, k=2)
        t4 = time.perf_counter()
        found += bool(len(emb))
        face_counts.append(len(faces))
        if faces and ref is not None:
            eye = float(np.linalg.norm(ref[1] - ref[0]))
            shifts.append(float(np.linalg.norm(faces[0].landmarks - ref, axis=1).max()) / eye * 100)
        for stage, dt in zip(STAGES, (t1 - t0, t2 - t1, t2b - t2, t3 - t2b, t4 - t3, t4 - t0)):
            times[stage].append(dt * 1000)
    row: dict[str, object] = {"step": step, "threads": threads, "liveness_beside_encoder": beside and liveness != "off", "flip_averaged": flip, "liveness": liveness, "frames": len(frames), "usable_face_rate": found / len(frames)}
    row |= {"detector": "mtcnn", "encoder": "fp32", "detect_max_side": profile.max_side, "min_face_px": profile.min_face_px, "thresholds": list(profile.thresholds), "pyramid_factor": profile.pyramid_factor} if profile else {"detector": "yunet", "encoder": "int8"}
    row["landmark_shift_p50_pct"] = float(np.percentile(shifts, 50)) if shifts else None
    row["landmark_shift_p95_pct"] = float(np.percentile(shifts, 95)) if shifts else None
    for stage in STAGES:
        row[f"{stage}_p50_ms"] = float(np.percentile(times[stage], 50))
        row[f"{stage}_p95_ms"] = float(np.percentile(times[stage], 95))
    row["fps"] = 1000.0 / float(np.mean(times["total"]))
    # LFW photos often hold people behind the subject: every usable face is embedded (with its
    # mirror), so frames with several faces make most of the tail. Split out, so both are seen.
    for label, keep in (("one_face", lambda n: n == 1), ("several_faces", lambda n: n > 1)):
        picked = [t for t, n in zip(times["total"], face_counts) if keep(n)]
        row[f"{label}_frames"] = len(picked)
        row[f"{label}_total_p50_ms"] = float(np.percentile(picked, 50)) if picked else None
        row[f"{label}_total_p95_ms"] = float(np.percentile(picked, 95)) if picked else None
    return row


BASELINE = TRAINING_PROFILE  # MTCNN defaults, as the training caches
MTCNN_DOOR = door_profile(Settings())  # the door's MTCNN settings (door_detector = mtcnn)
SHIPPED = None  # run_setting: the shipped door (YuNet + MTCNN's last stage, int8 encoder)
DOOR_FLIP = Settings().door_flip_average  # the door's default: one encoder pass per frame
LIVENESS = Settings().liveness  # the door's default liveness check (passive)
VOTES_WINDOW = Settings().votes_window
VISIT_FRAMES = 30  # a 2-second visit at 15 fps: its first VOTES_WINDOW frames are scored passively
STEPS: list[tuple[str, DetectorProfile | None, bool, bool]] = [  # (step, MTCNN profile or None: shipped, OpenCV resampling in MTCNN, flip-averaged embedding)
    ("baseline (MTCNN defaults, min 40)", BASELINE, False, True),
    ("+ min face 80 (eyes >= 40 px)", DetectorProfile(80, 640), False, True),
    ("+ downscale to 320", DetectorProfile(80, 320), False, True),
    ("+ thresholds 0.8/0.8/0.8", DetectorProfile(80, 320, 0.709, (0.8, 0.8, 0.8)), False, True),
    ("+ pyramid step 0.5", MTCNN_DOOR, False, True),
    ("+ OpenCV resampling (MTCNN door)", MTCNN_DOOR, True, DOOR_FLIP),
    ("YuNet + int8 encoder (= shipped)", SHIPPED, True, DOOR_FLIP),
    ("option: one encoder pass, no mirror", SHIPPED, True, False),
]


def door_visits(clips: int, encoder: object, liveness: str, detector: str = Settings().door_detector, precision: str = Settings().encoder_precision) -> dict[str, object] | None:
    """Frame -> decision through the door daemon itself (``DoorDaemon.process_frame``: the stages,
    the liveness plan, tracking, matching, the policy, the audit row and the actuator), on ZJU
    webcam clips of live people (../shared sample, upscaled to 640x480), each person enrolled from
    the clip's first frame, three seconds a clip. Decision frames are the ones that returned a verdict."""
    import tempfile
    from itertools import islice

    import cv2

    from gatekeeper.app import App
    from gatekeeper.door.actuate import LogOnlyActuator
    from gatekeeper.services.enrollment import embed_image
    from gatekeeper.training.recipes import datasets_root

    root = datasets_root() / "liveness" / "zju-blink-sample"
    videos = sorted(p for p in root.rglob("*") if p.suffix in (".avi", ".mp4"))[:clips]
    if not videos:
        return None
    every, decisions, granted = [], [], 0
    for n, video in enumerate(videos):
        cap = cv2.VideoCapture(str(video))
        frames = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), (640, 480)) for ok, f in islice(iter(cap.read, (False, None)), 91) if ok]
        cap.release()
        with tempfile.TemporaryDirectory() as tmp:
            app = App(Settings(data_dir=Path(tmp), door_id="bench", liveness=liveness, gallery_refresh_s=0.0, door_detector=detector, encoder_precision=precision), encoder=encoder)  # type: ignore[arg-type]
            if not app.enrollment.enroll(f"zju-{n}", f"ZJU {n}", [embed_image(app.pipeline, frames[0], "frame 1")]).enrolled:
                continue
            actuator = LogOnlyActuator()
            daemon = app.daemon(actuator)
            for i, frame in enumerate(frames[1:]):
                t0 = time.perf_counter()
                verdicts = daemon.process_frame(frame, i / 30)
                dt = (time.perf_counter() - t0) * 1000
                every.append(dt)
                decisions += [dt] if verdicts else []
            granted += bool(actuator.unlocks)
    pct = lambda xs, q: float(np.percentile(xs, q)) if xs else None  # noqa: E731
    return {"liveness": liveness, "detector": detector, "precision": precision, "clips": len(videos), "granted": granted, "frames": len(every), "frame_p50_ms": pct(every, 50), "frame_p95_ms": pct(every, 95),
            "decision_frames": len(decisions), "decision_p50_ms": pct(decisions, 50), "decision_p95_ms": pct(decisions, 95)}


def interleaved_liveness(frames: list[np.ndarray], pipeline: FacePipeline, rounds: int = 3) -> dict[str, dict[str, float]]:
    """What the liveness stage adds to a frame, measured so that the VM's drift cannot fake it:
    each frame in turn with liveness beside the encoder (shipped), in turn before it, and off,
    detect to embeddings, 1 thread, the door's schedule of checks; ``rounds`` passes over the frames."""
    torch.set_num_threads(1)
    door = pipeline.door
    times: dict[str, list[float]] = {"beside (shipped)": [], "in turn": [], "off": []}
    for _ in range(rounds):
        for i, frame in enumerate(frames):
            for variant, spent in times.items():
                t0 = time.perf_counter()
                judged = pipeline.judged_faces(frame, door)
                passive, eyes = scheduled_checks(i, judged, "passive+blink")
                if variant == "beside (shipped)":
                    pipeline.embed_with_liveness(frame, judged, door, passive, eyes)
                else:
                    if variant == "in turn":
                        pipeline.check_liveness(frame, door, passive, eyes)
                    pipeline.embed(judged, door)
                spent.append((time.perf_counter() - t0) * 1000)
    return {v: {"p50_ms": float(np.percentile(t, 50)), "p95_ms": float(np.percentile(t, 95)), "frames": len(t)} for v, t in times.items()}


def box_speed(encoder: object) -> float:
    """This box's speed right now: the median of 30 single encoder passes (1 thread). A shared VM
    drifts by tens of percent within minutes; printed at the start and the end of a run."""
    torch.set_num_threads(1)
    size = encoder.template.size  # type: ignore[attr-defined]
    crop = np.full((1, size, size, 3), 128, np.uint8)
    spent = []
    for _ in range(31):
        t0 = time.perf_counter()
        encoder.embed(crop, flip=False)  # type: ignore[attr-defined]
        spent.append((time.perf_counter() - t0) * 1000)
    return float(np.median(spent[1:]))


def reference_landmarks(pipeline: FacePipeline, frames: list[np.ndarray]) -> list[np.ndarray | None]:
    """The baseline detector's landmarks for the main face of each frame."""
    use_opencv_resampling(False)
    baseline = PipelineProfile("baseline", FaceDetector.from_profile(BASELINE), pipeline.door.gate, True)
    out: list[np.ndarray | None] = []
    for frame in frames:
        faces = pipeline.detect(frame, baseline)
        out.append(faces[0].landmarks if faces else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a handful of frames (CI)")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("bench/results/frame_latency.json"))
    args = parser.parse_args()
    n = 6 if args.quick else args.frames
    frames = door_frames(n)
    pipeline = FacePipeline(Settings())
    encoder = pipeline.encoder
    rng = np.random.default_rng(0)
    gallery_vecs = rng.normal(size=(1000, encoder.dim)).astype(np.float32)
    gallery_vecs /= np.linalg.norm(gallery_vecs, axis=1, keepdims=True)
    gallery = GalleryIndex.build(gallery_vecs, np.arange(1000), [f"p{i}" for i in range(1000)], encoder.dim, 0, "bench")
    speed_before = box_speed(encoder)
    reference = reference_landmarks(pipeline, frames)
    steps = STEPS[-2:-1] if args.quick else STEPS
    rows = [run_setting(frames, pipeline, gallery, threads, step, profile, opencv, reference, flip, LIVENESS if "shipped" in step or "MTCNN door" in step else "off") for step, profile, opencv, flip in steps for threads in (1, 2)]
    rows += [run_setting(frames, pipeline, gallery, 1, "option: liveness in turn, not beside", SHIPPED, True, reference, DOOR_FLIP, LIVENESS, beside=False)]
    rows += [run_setting(frames, pipeline, gallery, 1, "option: liveness off", SHIPPED, True, reference, DOOR_FLIP, "off")]
    rows += [run_setting(frames, pipeline, gallery, 1, "option: one encoder pass, liveness on", SHIPPED, True, reference, False, LIVENESS)]
    rows += [run_setting(frames, pipeline, gallery, 1, "option: liveness passive only", SHIPPED, True, reference, DOOR_FLIP, "passive")]
    # A visit's frames after its first votes_window: the door runs the eye measurement only.
    rows += [run_setting(frames, pipeline, gallery, 1, "shipped, later frames of a visit", SHIPPED, True, reference, DOOR_FLIP, "blink only")]
    with busy_neighbour(1):  # a door box is shared: video decoding, the console, log shipping
        rows += [run_setting(frames, pipeline, gallery, threads, "shipped, 1 busy neighbour", SHIPPED, True, reference, DOOR_FLIP, LIVENESS) for threads in (1, 2)]
    header = f"{'step':<34} {'thr':>3} | " + " | ".join(f"{s:>13} p50/p95" for s in STAGES) + " |   fps | found | landmark shift p50/p95"
    print(header)
    for r in rows:
        cells = " | ".join("  (beside embed)     " if s == "liveness" and r["liveness_beside_encoder"] else f"{r[f'{s}_p50_ms']:7.1f}/{r[f'{s}_p95_ms']:<13.1f}" for s in STAGES)
        shift = f"{r['landmark_shift_p50_pct']:.1f}% / {r['landmark_shift_p95_pct']:.1f}%" if r["landmark_shift_p50_pct"] is not None else "-"
        print(f"{r['step']:<34} {r['threads']:>3} | {cells} | {r['fps']:5.1f} | {r['usable_face_rate']:5.0%} | {shift}")
    print("\ntotal p50/p95 ms by faces in the frame (every usable face is embedded):")
    for r in rows:
        if r["liveness"] != "off" or r["step"] == "option: liveness off":
            split = "   ".join(f"{label.replace('_', ' ')} ({r[f'{label}_frames']}): " + (f"{r[f'{label}_total_p50_ms']:.1f} / {r[f'{label}_total_p95_ms']:.1f}" if r[f"{label}_frames"] else "-") for label in ("one_face", "several_faces"))
            print(f"  {r['step']:<40} {r['threads']} thr   {split}")
    compared = interleaved_liveness(frames, pipeline, 1 if args.quick else 3)
    print("\nliveness interleaved frame by frame (detect to embeddings, 1 thread, the door's schedule), p50/p95 ms: "
          + "; ".join(f"{v} {c['p50_ms']:.1f} / {c['p95_ms']:.1f}" for v, c in compared.items()))
    torch.set_num_threads(Settings().threads)
    clips = 1 if args.quick else 16
    visits, mtcnn_visits, blink_visits = door_visits(clips, encoder, LIVENESS), door_visits(clips, encoder, LIVENESS, "mtcnn", "fp32"), door_visits(clips, encoder, "passive+blink")
    for v in (visits, mtcnn_visits, blink_visits):
        if v:
            print(f"\nthrough the daemon (process_frame), {v['clips']} ZJU live clips at 640x480, liveness {v['liveness']}, detector {v['detector']}, encoder {v['precision']}: every frame p50/p95 "
                  f"{v['frame_p50_ms']:.1f} / {v['frame_p95_ms']:.1f} ms ({v['frames']} frames); decision frames "
                  + (f"{v['decision_p50_ms']:.1f} / {v['decision_p95_ms']:.1f} ms ({v['decision_frames']})" if v["decision_frames"] else "none")
                  + f"; granted {v['granted']}/{v['clips']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    speed_after = box_speed(encoder)
    print(f"box speed, one encoder pass p50: {speed_before:.1f} ms at the start, {speed_after:.1f} ms at the end")
    args.out.write_text(json.dumps({"machine": _machine(), "box_speed_ms": [speed_before, speed_after], "rows": rows, "liveness_interleaved": compared, "door_visits": visits, "door_visits_mtcnn_fp32": mtcnn_visits, "door_visits_passive_blink": blink_visits}, indent=2))
    print(f"wrote {args.out}")


def _machine() -> dict[str, object]:
    import os
    import platform

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__}


if __name__ == "__main__":
    main()
