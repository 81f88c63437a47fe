"""Door health as the console, `door list` and /metrics show it: a stopped door is red with the
time it was last heard of, a door whose camera sends nothing says so (it keeps writing heartbeats)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from gatekeeper.core.door_health import door_health
from tests.test_web import client, gk, sign_in  # noqa: F401  (fixtures)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("beat_s", "frame_s", "camera", "state"),
    [
        (None, None, None, "never-reported"),
        (2, 1, "ok", "running"),
        (16, 16, "ok", "stopped"),  # three 5-s intervals without a heartbeat
        (2, 40, "ok", "no-frames"),  # heartbeats, but the camera sends nothing
        (2, None, "starting", "no-frames"),
        (2, 30, "camera-lost", "camera-fault"),
    ],
)
def test_health_follows_the_heartbeat_and_the_last_frame(beat_s: float | None, frame_s: float | None, camera: str | None, state: str) -> None:
    ago = (lambda s: None if s is None else NOW - timedelta(seconds=s))
    health = door_health(ago(beat_s), ago(frame_s), camera, NOW)
    assert health.state == state and health.ok == (state == "running")
    if state == "stopped":
        assert "11:59:44" in health.detail, "a stopped door says when it was last heard of"


class StalledCamera:
    """An RTSP stream that delivers a few frames, then hangs in read() (no error, no frame)."""

    name = "stalled-camera"
    finite = False

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames, self.release = list(frames), threading.Event()

    def open(self) -> None:
        return None

    def read(self) -> np.ndarray | None:
        if self.frames:
            return self.frames.pop(0)
        self.release.wait(30)
        return None

    def close(self) -> None:
        self.release.set()


def test_a_door_whose_camera_stalls_keeps_reporting_and_shows_no_frames(make_app) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.door.actuate import LogOnlyActuator
    from gatekeeper.services.doors import door_statuses

    gk = make_app()
    daemon = gk.daemon(LogOnlyActuator())
    daemon.pulse.every_s = 0.2  # heartbeats five times a second, so the test need not wait 15 s
    camera, stop = StalledCamera([np.full((480, 640, 3), 110, np.uint8)] * 3), threading.Event()
    thread = threading.Thread(target=daemon.run, args=(camera, stop), daemon=True)
    thread.start()
    try:
        deadline, status = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            statuses = door_statuses(gk.sessions, gk.access, every_s=0.2)
            status = statuses[0] if statuses else None
            if status is not None and status.health.state == "no-frames":
                break
            time.sleep(0.05)
        assert status is not None and status.health.state == "no-frames", status
        assert status.heartbeat_at > status.last_frame_at, "the door still writes heartbeats while its camera is silent"
        assert status.fps == 0.0
    finally:
        stop.set()
        camera.release.set()
        thread.join(10)


def test_the_doors_page_shows_a_stopped_door_in_red_with_its_last_heartbeat(client, gk) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.storage.models import DoorHeartbeat
    from tests.test_web import sign_in

    then = datetime.now(timezone.utc) - timedelta(minutes=3)
    with gk.sessions.begin() as s:
        s.add(DoorHeartbeat(door_id="loading-dock", updated_at=then, last_frame_at=then, fps=14.8, camera="ok", model_version="doornet-v2", gallery_generation=3, people=12))
    sign_in(client, "bob")
    page = client.get("/doors").text
    row = page.split('class="health-stopped"', 1)[1].split("</tr>", 1)[0]
    assert "loading-dock" in row and then.strftime("%H:%M:%S") in row
    (door,) = client.get("/api/v1/doors").json()["doors"]
    assert door["state"] == "stopped" and door["fps"] == 14.8
