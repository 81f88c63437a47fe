"""Camera faults: sources that never open, corrupted and frozen frames. The daemon stays up,
backs off, logs each fault and never unlocks on an error."""

from __future__ import annotations

import threading
import time

import numpy as np

from gatekeeper.actuate import LogOnlyActuator
from gatekeeper.audit import AuditFilter
from gatekeeper.camera import CameraError, FrameReader


class NeverOpens:
    name = "dead-camera"
    finite = False

    def __init__(self) -> None:
        self.attempts: list[float] = []

    def open(self) -> None:
        self.attempts.append(time.monotonic())
        raise CameraError("no route to camera")

    def read(self) -> np.ndarray | None:
        return None

    def close(self) -> None:
        pass


def test_source_that_never_opens_is_retried_with_growing_backoff() -> None:
    events: list[tuple[str, str]] = []
    source = NeverOpens()
    reader = FrameReader(source, drop_stale=True, on_event=lambda k, m: events.append((k, m)), backoff_initial_s=0.02, backoff_max_s=0.16)
    reader.start()
    time.sleep(1.0)
    reader.stop()
    reader.join(timeout=5)
    assert not reader.is_alive()
    gaps = np.diff(source.attempts)
    assert len(source.attempts) >= 5
    assert gaps[1] > gaps[0] * 1.5  # exponential ...
    assert max(gaps) < 0.4  # ... up to the cap
    assert all(kind == "camera-error" and "no route to camera" in msg for kind, msg in events)


class Corrupting:
    """Garbage of every kind a broken capture pipeline can hand over, then frozen frames."""

    name = "corrupting-camera"
    finite = True

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.frames: list[object] = [
            rng.integers(0, 255, (480, 640, 3), dtype=np.uint8),  # sensor noise
            np.zeros((0, 0, 3), np.uint8),  # empty buffer
            rng.integers(0, 255, (480, 640), dtype=np.uint8),  # lost the colour planes
            rng.random((480, 640, 3)).astype(np.float32),  # wrong dtype
            np.zeros((480, 640, 3), np.uint8),  # black frame
        ] + [np.full((480, 640, 3), 90, np.uint8)] * 5  # frozen
        self.opened = False

    def open(self) -> None:
        self.opened = True

    def read(self):  # type: ignore[no-untyped-def]
        return self.frames.pop(0) if self.frames else None

    def close(self) -> None:
        pass


def test_corrupted_and_frozen_frames_never_unlock(make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    stats = daemon.run(Corrupting(), threading.Event())
    assert stats.frames == 10
    assert actuator.unlocks == []
    errors = gk.audit.query(AuditFilter(decision="error"))
    assert 1 <= len(errors) <= 3  # the malformed buffers are logged as errors ...
    assert all("frame processing failed" in e.detail for e in errors)
    assert not gk.audit.query(AuditFilter(decision="granted"))  # ... and nothing was let in
