"""Camera faults: sources that never open, corrupted and frozen frames. The daemon stays up,
backs off, logs each fault and never unlocks on an error."""

from __future__ import annotations

import threading
import time

import numpy as np

from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.audit import AuditFilter
from gatekeeper.door.camera import CameraError, FrameReader


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
    deadline = time.monotonic() + 30
    while len(source.attempts) < 6 and time.monotonic() < deadline:  # attempts, not a guessed time
        time.sleep(0.01)
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


# -- issue #13 item 4: files end, typos fail at once, the summary counts camera errors -------
def test_a_missing_file_or_folder_is_refused_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    import pytest

    from gatekeeper.door.camera import open_source

    with pytest.raises(CameraError, match="no such file or folder"):
        open_source(str(tmp_path / "missing.avi"))
    env = {"GATEKEEPER_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "gatekeeper", "run", "--source", str(tmp_path / "missing.avi")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "missing.avi" in done.stderr and "no such file" in done.stderr, done.stderr
    assert time.monotonic() - started < 30, "refused before any retry loop"


def test_an_unreadable_video_file_ends_the_replay_instead_of_retrying(make_app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.door.camera import open_source

    clip = tmp_path / "door.avi"
    clip.write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 10)
    gk = make_app()
    done = threading.Event()
    stats = None

    def replay() -> None:
        nonlocal stats
        stats = gk.daemon(LogOnlyActuator()).run(open_source(str(clip)), threading.Event())
        done.set()

    threading.Thread(target=replay, daemon=True).start()
    assert done.wait(30), "a file that cannot be opened must end the run, not be retried for ever"
    assert stats is not None and stats.camera_errors == 1 and stats.frames == 0
    assert "1 camera errors" in stats.summary()
    rows = gk.audit.query(AuditFilter(decision="error"))
    assert len(rows) == 1 and "not retried" in (rows[0].detail or "")


def test_the_run_summary_names_each_decision() -> None:
    from gatekeeper.core import Decision
    from gatekeeper.door.daemon import DaemonStats

    stats = DaemonStats(frames=90, faces=40, errors=1, camera_errors=2, decisions={str(Decision.GRANTED): 2, str(Decision.DENIED_UNKNOWN): 3})
    assert stats.summary() == "90 frames, 40 faces: 3 denied-unknown, 2 granted; 1 errors, 2 camera errors"
