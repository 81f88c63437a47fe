"""The public Python API on the bundled public-domain portraits (runs without the datasets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2

import gatekeeper
from gatekeeper.demo import astronaut, grace_hopper


def test_import_gatekeeper_loads_no_model_library() -> None:
    code = "import sys, gatekeeper; heavy = [m for m in ('torch', 'faiss', 'sqlalchemy', 'cv2') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_enroll_identify_remove_and_audit(tmp_path: Path) -> None:
    door = gatekeeper.open(tmp_path / "data", gallery_refresh_s=0.0)
    photo = tmp_path / "collins.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    # one photo from a path, one from an array (the same portrait mirrored)
    result = door.enroll("eileen-collins", "Eileen Collins", [photo, astronaut()[:, ::-1].copy()])
    assert result.enrolled and result.rejected_photos == (), result
    assert door.people() == [gatekeeper.Person("eileen-collins", "Eileen Collins", 2)]

    (collins,) = door.identify(astronaut())
    assert (collins.verdict, collins.person_id) == ("match", "eileen-collins") and collins.similarity > 0.95
    (hopper,) = door.identify(grace_hopper())
    assert hopper.verdict == "no match" and hopper.person_id is None
    assert len(collins.box) == 4 and collins.problems == ()

    bad = door.enroll("nobody", "Nobody", [tmp_path / "missing.jpg"])
    assert not bad.enrolled and bad.rejected_photos and "missing.jpg" in bad.rejected_photos[0][0]
    refused = door.enroll("[/]", "x", [astronaut()])
    assert not refused.enrolled and "not allowed" in (refused.reason or "")

    assert door.remove("eileen-collins") and not door.remove("eileen-collins")
    assert door.identify(astronaut())[0].verdict == "no match"
    assert door.decisions(door_id="door-1") == [] and door.verify_log() == []  # identify decides nothing at a door
    assert [(d["decision"], d["person_id"]) for d in door.decisions(door_id="admin")] == [("enrolled", "eileen-collins"), ("removed", "eileen-collins")]
