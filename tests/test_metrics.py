"""The door's Prometheus metrics, scraped over HTTP after a replayed visit on a real face."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import numpy as np

from gatekeeper.demo import astronaut
from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.services.enrollment import embed_image
from tests.conftest import door_frame


def test_decisions_latency_and_gallery_are_exported(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gk = make_app(settings)
    assert gk.enrollment.enroll("emp-0042", "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "astronaut")]).enrolled
    daemon = gk.daemon(LogOnlyActuator())
    rng = np.random.default_rng(0)
    for i in range(4):
        daemon.process_frame(door_frame(astronaut(), rng), i / 15)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    daemon.metrics.serve(port)
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    door = settings.door_id
    assert f'gatekeeper_decisions_total{{decision="granted",door="{door}"}} 1.0' in text
    assert f'gatekeeper_frame_seconds_count{{door="{door}"}} 4.0' in text
    assert f'gatekeeper_frame_seconds_bucket{{door="{door}",le="0.033"}}' in text, "a bucket says which frames fit a 30 fps camera's frame time"
    assert f'gatekeeper_gallery_people{{door="{door}"}} 1.0' in text
    assert f'gatekeeper_gallery_generation{{door="{door}"}}' in text
    assert f'gatekeeper_last_frame_timestamp_seconds{{door="{door}"}}' in text  # alert on time() minus it


def test_metrics_alone_need_no_face_stack() -> None:
    """`door/metrics.py` is driven directly, in a fresh interpreter: counting decisions, camera
    faults and dropped side jobs loads neither torch nor OpenCV, and two doors never mix counts."""
    import subprocess
    import sys

    code = """
import sys
from prometheus_client import generate_latest
from gatekeeper.door.metrics import DoorMetrics
front, back = DoorMetrics("front"), DoorMetrics("back")
front.decision("granted"); front.decision("granted"); front.decision("denied-unknown")
front.camera_fault(); front.side_work_dropped(); front.gallery(12, 7); back.decision("granted")
print(generate_latest(front.registry).decode())
print("LOADED", sorted(m for m in ("torch", "cv2", "faiss", "facenet_pytorch") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'gatekeeper_decisions_total{decision="granted",door="front"} 2.0' in out
    assert 'gatekeeper_decisions_total{decision="denied-unknown",door="front"} 1.0' in out
    assert 'door="back"' not in out, "each door has its own registry"
    assert 'gatekeeper_camera_faults_total{door="front"} 1.0' in out and 'gatekeeper_side_work_dropped_total{door="front"} 1.0' in out
    assert 'gatekeeper_gallery_people{door="front"} 12.0' in out and 'gatekeeper_gallery_generation{door="front"} 7.0' in out
    assert "LOADED []" in out
