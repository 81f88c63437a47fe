"""The default door (YuNet and the int8 encoder) runs without torch: enrolled here with the full
stack, the door then runs in a process where importing torch, torchvision or facenet-pytorch fails,
and grants the enrolled person; enrollment in such a process is refused, naming what is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from gatekeeper.demo import astronaut, grace_hopper
from tests.conftest import REPO, door_frame

NO_TORCH = r"""
import importlib.abc, json, sys

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "facenet_pytorch"):
            raise ImportError(f"{name} is not installed on this door box", name=name.split(".")[0])

sys.meta_path.insert(0, NoTorch())
"""

DOOR = NO_TORCH + r"""
import numpy as np
from gatekeeper.app import App
from gatekeeper.config import Settings
from gatekeeper.door.actuate import LogOnlyActuator

app = App(Settings())
app.pipeline.require_liveness()  # the liveness nets load without torch too
actuator = LogOnlyActuator()
daemon = app.daemon(actuator)
for i, frame in enumerate(np.load(sys.argv[1])):
    daemon.process_frame(frame, i / 15)
print(json.dumps({"unlocks": actuator.unlocks, "torch_loaded": "torch" in sys.modules}))
"""


def test_a_door_on_yunet_and_int8_runs_and_grants_without_torch(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.services.enrollment import embed_image

    gk = make_app(settings)  # the shipped door settings
    assert gk.enrollment.enroll("emp-0042", "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "astronaut")]).enrolled
    rng = np.random.default_rng(3)
    frames = [door_frame(grace_hopper(), rng) for _ in range(3)] + [door_frame(astronaut(), rng) for _ in range(4)]
    np.save(tmp_path / "frames.npy", np.stack(frames))
    env = {**os.environ, "GATEKEEPER_DATA_DIR": str(settings.data_dir), "GATEKEEPER_DOOR_ID": settings.door_id, "GATEKEEPER_GALLERY_REFRESH_S": "0", "GATEKEEPER_LIVENESS": "off"}
    run = subprocess.run([sys.executable, "-c", DOOR, str(tmp_path / "frames.npy")], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {"unlocks": [[settings.door_id, "emp-0042"]], "torch_loaded": False}


def test_the_door_requirements_are_the_package_s_less_torch_and_the_demo() -> None:
    """requirements/door.txt (the torch-free door install) drifts from pyproject.toml never."""
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    left_out = {"torch", "torchvision", "facenet-pytorch", "matplotlib", "scikit-image"}
    expected = [d for d in declared if d.split("=")[0].split(">")[0].split("<")[0].strip() not in left_out]
    listed = [line.strip() for line in (REPO / "requirements" / "door.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert listed == expected


def test_enrollment_without_torch_is_refused_naming_what_is_missing(make_app, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import cv2

    make_app(settings).sessions  # an existing database
    photo = tmp_path / "collins.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    cli = NO_TORCH + "from gatekeeper.cli import main\nsys.argv = ['gatekeeper', 'enroll', '--photo', sys.argv[1], '--id', 'emp-1']\nmain()\n"
    env = {**os.environ, "GATEKEEPER_DATA_DIR": str(settings.data_dir), "COLUMNS": "200"}
    run = subprocess.run([sys.executable, "-c", cli, str(photo)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    said = " ".join((run.stdout + run.stderr).split())
    assert run.returncode == 2, said[-3000:]
    assert "needs torch" in said and "door install" in said, said[-3000:]
    with make_app(settings).sessions() as s:
        from gatekeeper.storage.models import Person

        assert s.query(Person).count() == 0
