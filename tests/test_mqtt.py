"""Decisions published to a real Mosquitto broker (Debian's package, started on loopback), and a
broker that is down neither delays nor changes the door's decision."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from gatekeeper.core import Decision
from gatekeeper.demo import astronaut
from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.enrollment import embed_image
from tests.conftest import door_frame

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
pytestmark = pytest.mark.skipif(not Path(MOSQUITTO).is_file(), reason="no mosquitto broker (.ci/run installs Debian's mosquitto)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def _visit(gk):  # type: ignore[no-untyped-def]
    assert gk.enrollment.enroll("emp-0042", "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "astronaut")]).enrolled
    daemon = gk.daemon(LogOnlyActuator())
    rng, verdicts, slowest = np.random.default_rng(0), [], 0.0
    for i in range(4):
        t = time.perf_counter()
        verdicts += daemon.process_frame(door_frame(astronaut(), rng), i / 15)
        slowest = max(slowest, time.perf_counter() - t)
    daemon.events.close()
    return verdicts, slowest


def test_every_decision_reaches_the_broker_without_the_face(make_app, settings, broker: int) -> None:  # type: ignore[no-untyped-def]
    import paho.mqtt.client as mqtt

    received: list[tuple[str, dict]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda _c, _u, msg: received.append((msg.topic, json.loads(msg.payload)))
    sub.connect("127.0.0.1", broker)
    sub.subscribe("gatekeeper/+/decision", qos=1)
    sub.loop_start()
    try:
        time.sleep(0.3)
        settings.mqtt_host, settings.mqtt_port, settings.snapshots = "127.0.0.1", broker, True
        verdicts, _ = _visit(make_app(settings))
        assert [v.decision for v in verdicts] == [Decision.GRANTED]
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
    (topic, payload), = received
    assert topic == f"gatekeeper/{settings.door_id}/decision"
    assert payload["decision"] == "granted" and payload["person"] == "emp-0042" and payload["best"] > 0.9
    assert "snapshot" not in payload and "snapshot_jpeg" not in payload  # the face stays on the door box


def test_the_face_goes_out_only_when_asked(make_app, settings, broker: int) -> None:  # type: ignore[no-untyped-def]
    import base64

    import cv2
    import paho.mqtt.client as mqtt

    received: list[dict] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda _c, _u, msg: received.append(json.loads(msg.payload))
    sub.connect("127.0.0.1", broker)
    sub.subscribe("gatekeeper/+/decision", qos=1)
    sub.loop_start()
    try:
        time.sleep(0.3)
        settings.mqtt_host, settings.mqtt_port, settings.snapshots, settings.mqtt_snapshot = "127.0.0.1", broker, True, True
        _visit(make_app(settings))
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
    face = cv2.imdecode(np.frombuffer(base64.b64decode(received[0]["snapshot_jpeg"]), np.uint8), cv2.IMREAD_COLOR)
    assert face is not None and face.shape[0] >= 100


def test_a_broker_that_is_down_never_delays_or_changes_the_door(make_app, settings) -> None:  # type: ignore[no-untyped-def]
    settings.mqtt_host, settings.mqtt_port = "127.0.0.1", _free_port()  # nothing listens there
    verdicts, slowest = _visit(make_app(settings))
    assert [v.decision for v in verdicts] == [Decision.GRANTED]
    assert slowest < 2.0, f"a frame took {slowest:.2f} s with the broker down"
