"""The door's background queue: slow side work (MQTT snapshots, heartbeats, old-snapshot sweeps)
never holds up the frame loop, a full queue drops its oldest job, and a failing job is only logged."""

from __future__ import annotations

import logging
import threading

import pytest

from gatekeeper.door.side_work import SideWork


def test_a_stuck_job_never_holds_up_the_caller_and_the_oldest_waiting_jobs_are_dropped() -> None:
    release, started, ran = threading.Event(), threading.Event(), []
    drops = []
    side = SideWork("test", limit=2, on_drop=lambda: drops.append(1))

    def stuck() -> None:  # a broker that does not answer
        started.set()
        release.wait()
        ran.append("stuck")

    side.submit(stuck)
    assert started.wait(5)
    for i in range(5):  # the loop goes on handing work over while the first job hangs
        side.submit(lambda i=i: ran.append(i))
    assert side.dropped == 3 and len(drops) == 3
    release.set()
    assert side.drain(5)
    assert ran == ["stuck", 3, 4], "the newest jobs survive; the oldest waiting ones were dropped"
    side.close()


def test_a_failing_job_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    ran = []
    side = SideWork("test")

    def broken() -> None:
        raise OSError("database is locked")

    with caplog.at_level(logging.ERROR):
        side.submit(broken)
        side.submit(lambda: ran.append("heartbeat"))
        assert side.drain(5)
    assert ran == ["heartbeat"] and "a background job failed" in caplog.text and "database is locked" in caplog.text
    side.close()


def test_close_runs_what_is_queued_then_refuses_more() -> None:
    ran = []
    side = SideWork("test")
    for i in range(10):
        side.submit(lambda i=i: ran.append(i))
    side.close()
    side.submit(lambda: ran.append("late"))
    assert ran == list(range(10))


def test_a_snapshot_read_that_hangs_never_holds_up_the_door(make_app, settings) -> None:  # type: ignore[no-untyped-def]
    """mqtt_snapshot: each decision's sealed face goes out with its message. Reading it used to
    happen inside the frame loop; here it hangs until released, and the door decides anyway."""
    import socket

    import numpy as np

    from gatekeeper.core import Decision
    from gatekeeper.demo import astronaut
    from gatekeeper.door.actuate import LogOnlyActuator
    from gatekeeper.services.enrollment import embed_image
    from tests.conftest import door_frame

    with socket.socket() as s:  # a broker port nobody listens on: paho keeps messages queued
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gk = make_app(settings.model_copy(update={"mqtt_host": "127.0.0.1", "mqtt_port": port, "mqtt_snapshot": True, "snapshots": "all"}))
    assert gk.enrollment.enroll("emp-0042", "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "astronaut")]).enrolled
    reading, release, hang_ended_by = threading.Event(), threading.Event(), []

    def hanging_snapshot(event_id: int, codec: object) -> bytes:
        reading.set()
        hang_ended_by.append("release" if release.wait(20) else "timeout")  # inside the loop, only a timeout ends it
        return b""

    gk.audit.snapshot_jpeg = hanging_snapshot
    daemon = gk.daemon(LogOnlyActuator())
    rng, verdicts = np.random.default_rng(0), []
    for i in range(4):
        verdicts += daemon.process_frame(door_frame(astronaut(), rng), i / 15)
    assert reading.wait(10), "the snapshot was asked for"
    assert not release.is_set() and Decision.GRANTED in [v.decision for v in verdicts], "granted while the snapshot read still hangs"
    release.set()
    daemon.events.close()
    assert hang_ended_by and set(hang_ended_by) == {"release"}, "the door decided without waiting for the snapshot"
