"""`gatekeeper demo`: the whole product on a machine with no camera and no data.

It enrolls a public-domain portrait that ships inside an installed package (NASA's photo of
astronaut Eileen Collins, in scikit-image), generates a door-camera clip in which she walks up,
nobody is there, then Grace Hopper (matplotlib's public-domain sample photo; not enrolled) walks
up, replays the clip through the real daemon, and prints the audit log.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

from gatekeeper.app import App
from gatekeeper.config import Settings
from gatekeeper.cli.display import audit_table, print_enrollment
from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.door.camera import open_source
from gatekeeper.services.audit import AuditFilter

FRAME_W, FRAME_H = 640, 480
VISIT_FRAMES = 10
EMPTY_FRAMES = 30  # two seconds of empty doorway at the replay clock: the next visitor is a new track


def astronaut() -> np.ndarray:
    """Head and shoulders of the portrait (the full photo frames her face too small for a door)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[0:330, 90:390])


def grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        buf = np.frombuffer(fh.read(), np.uint8)
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def doorway(rng: np.random.Generator) -> np.ndarray:
    """An empty corridor: a vertical gradient with sensor noise."""
    ramp = np.linspace(70, 150, FRAME_H, dtype=np.float32)[:, None, None]
    frame = np.broadcast_to(ramp, (FRAME_H, FRAME_W, 3)).copy()
    frame[:, :, 2] *= 0.9
    return np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)


def visitor_frame(portrait: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """The portrait at door-camera scale, a little off-centre, with lighting change and noise."""
    frame = doorway(rng)
    h = int(height * rng.uniform(0.95, 1.05))
    w = int(portrait.shape[1] * h / portrait.shape[0])
    person = cv2.resize(portrait, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    person = person * rng.uniform(0.85, 1.1) + rng.normal(0, 4, person.shape)
    x = (FRAME_W - w) // 2 + int(rng.integers(-20, 21))
    y = max(0, (FRAME_H - h) // 2 + int(rng.integers(-10, 11)))
    x0, y0, x1, y1 = max(0, x), y, min(FRAME_W, x + w), min(FRAME_H, y + h)
    frame[y0:y1, x0:x1] = np.clip(person[y0 - y : y1 - y, x0 - x : x1 - x], 0, 255).astype(np.uint8)
    return frame


def write_clip(path: Path, seed: int = 7) -> Path:
    """Collins walks up; an empty doorway; Hopper (not enrolled) walks up; empty again."""
    rng = np.random.default_rng(seed)
    frames = [visitor_frame(astronaut(), 430, rng) for _ in range(VISIT_FRAMES)]
    frames += [doorway(rng) for _ in range(EMPTY_FRAMES)]
    frames += [visitor_frame(grace_hopper(), 380, rng) for _ in range(VISIT_FRAMES)]
    frames += [doorway(rng) for _ in range(EMPTY_FRAMES)]
    return _write(path, frames)


def _write(path: Path, frames: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (FRAME_W, FRAME_H))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}: OpenCV has no MJPG writer")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_still_clip(path: Path, seconds: float, seed: int = 8) -> Path:
    """Collins's portrait held in front of the camera for ``seconds``, moving a little."""
    rng = np.random.default_rng(seed)
    return _write(path, [visitor_frame(astronaut(), 430, rng) for _ in range(int(seconds * 15))])


def run_demo(workdir: Path, console: Console) -> None:

    if workdir.exists():
        shutil.rmtree(workdir)  # the demo always starts from an empty door system
    photos = workdir / "enroll" / "eileen-collins"
    photos.mkdir(parents=True)
    cv2.imwrite(str(photos / "astronaut.png"), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    clip = write_clip(workdir / "door-camera.avi")
    # The clip's visitors are still photos, which a door asking for a blink refuses (step 3 shows
    # it): the matching part of the demo runs with liveness off, and says so.
    settings = Settings(data_dir=workdir / "data", source=str(clip), unknown_log_interval_s=0.0, door_id="demo-door", liveness="off")
    gk = App(settings)

    console.rule("1. enroll employees from photos")
    result = gk.enrollment.enroll("eileen-collins", "Eileen Collins", [gk.enrollment.embed_photo(p) for p in sorted(photos.iterdir())])
    print_enrollment(console, [result])

    console.rule("2. replay the door camera through the daemon")
    console.print(f"clip {clip}: Eileen Collins (enrolled) walks up, empty doorway, Grace Hopper (not enrolled) walks up")
    console.print("liveness is off for this replay: its visitors are still photos (step 3 shows a door that checks)")
    actuator = LogOnlyActuator()
    stats = gk.daemon(actuator).run(open_source(str(clip)), threading.Event())
    console.print(f"{stats.frames} frames, {stats.faces} faces seen, door unlocked for: {[p for _, p in actuator.unlocks] or 'nobody'}")

    console.rule("3. liveness = passive+blink: Collins's photo held still in front of the camera")
    still = write_still_clip(workdir / "photo-held-up.avi", settings.liveness_window_s + 1.0)
    spoof = App(settings.model_copy(update={"liveness": "passive+blink", "door_id": "demo-door-2"}))
    actuator = LogOnlyActuator()
    spoof.daemon(actuator).run(open_source(str(still)), threading.Event())
    console.print(f"clip {still}: the enrolled face, but a photo that never blinks; door unlocked for: {[p for _, p in actuator.unlocks] or 'nobody'}")

    console.rule("4. audit the match log")
    console.print(audit_table(gk.audit.query(AuditFilter())))
    problems = gk.audit.verify()
    console.print("[green]audit chain intact" if not problems else f"[red]{problems}")
    console.print(f"data in {workdir}; try: GATEKEEPER_DATA_DIR={workdir / 'data'} gatekeeper audit --summary")
