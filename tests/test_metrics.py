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
    assert f'gatekeeper_gallery_people{{door="{door}"}} 1.0' in text
    assert f'gatekeeper_gallery_generation{{door="{door}"}}' in text
