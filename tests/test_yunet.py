"""YuNet at the door (door_detector = yunet): its faces carry MTCNN's landmark and box convention
(mapped through models/yunet.json), a door grants on them, and a damaged model stops the door."""

from __future__ import annotations

import numpy as np
import pytest

from gatekeeper.config import Settings
from gatekeeper.demo import astronaut
from gatekeeper.vision.detect import PHOTO_PROFILE, FaceDetector
from gatekeeper.vision.yunet import YuNetDetector, YuNetFileError
from tests.conftest import door_frame


def test_yunet_faces_are_aligned_and_boxed_as_mtcnn_does(encoder) -> None:  # type: ignore[no-untyped-def]
    """The mapped points are the template's shape placed by YuNet's fit (so single points may
    differ from MTCNN's by a fifth of the eye distance); what must agree is the warp they give
    and the box the liveness nets crop around."""
    from gatekeeper.vision.align import align_face

    frame = door_frame(astronaut(), np.random.default_rng(0))
    (mt,) = [f for f in FaceDetector.from_profile(PHOTO_PROFILE).detect(frame) if f.score > 0.9]
    (yu,) = YuNetDetector().detect(frame)
    crops = np.stack([align_face(frame, f.landmarks, encoder.template) for f in (mt, yu)])
    a, b = encoder.embed(crops)
    assert float(a @ b) > 0.97, f"the two warps give the same face to the encoder (cosine {float(a @ b):.3f})"
    assert np.abs(yu.box - mt.box).max() < 0.2 * mt.width, "the box (the liveness nets' crop) close to MTCNN's"


def test_a_door_on_yunet_grants_the_enrolled_face(make_app, settings) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.door.actuate import LogOnlyActuator
    from gatekeeper.services.enrollment import embed_image

    gk = make_app(settings.model_copy(update={"door_detector": "yunet"}))
    assert gk.enrollment.enroll("emp-0042", "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "astronaut")]).enrolled
    actuator, rng = LogOnlyActuator(), np.random.default_rng(1)
    daemon = gk.daemon(actuator)
    for i in range(4):
        daemon.process_frame(door_frame(astronaut(), rng), i / 15)
    assert actuator.unlocks == [(settings.door_id, "emp-0042")]


def test_a_damaged_yunet_model_stops_the_door(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import shutil

    import gatekeeper.vision.yunet as yunet
    from gatekeeper.vision.model_files import MODELS_DIR
    from gatekeeper.vision.pipeline import door_detector

    for name in ("yunet.json", "yunet-n.onnx"):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    (tmp_path / "yunet-n.onnx").write_bytes(b"\x00" * 100)
    monkeypatch.setattr(yunet, "MODELS_DIR", tmp_path)
    with pytest.raises(YuNetFileError, match="sha256"):
        door_detector(Settings(door_detector="yunet"))
