"""YuNet at the door (door_detector = yunet): its faces carry MTCNN's landmarks and box (MTCNN's
output network placed on YuNet's box), a door grants on them, and a damaged model stops the door."""

from __future__ import annotations

import numpy as np
import pytest

from gatekeeper.config import Settings
from gatekeeper.demo import astronaut
from gatekeeper.vision.detect import PHOTO_PROFILE, FaceDetector
from gatekeeper.vision.yunet import YuNetDetector, YuNetFileError
from tests.conftest import door_frame


def test_yunet_faces_carry_mtcnn_landmarks_and_box(encoder) -> None:  # type: ignore[no-untyped-def]
    """Each of the five points within a tenth of the eye distance of MTCNN's (YuNet's own points,
    mapped by one similarity transform, were up to a fifth away), the box (the liveness nets'
    crop) within 8 % of the face width, and the warp gives the encoder the same face."""
    from gatekeeper.demo import grace_hopper
    from gatekeeper.vision.align import align_face

    for seed, photo in enumerate((astronaut(), grace_hopper())):
        frame = door_frame(photo, np.random.default_rng(seed))
        (mt,) = [f for f in FaceDetector.from_profile(PHOTO_PROFILE).detect(frame) if f.score > 0.9]
        (yu,) = YuNetDetector().detect(frame)
        off = np.linalg.norm(yu.landmarks - mt.landmarks, axis=1) / mt.inter_eye_px
        assert off.max() < 0.1, f"points off MTCNN's by {np.round(off, 3)} eye distances"
        assert np.abs(yu.box - mt.box).max() < 0.08 * mt.width, "the box close to MTCNN's"
        a, b = encoder.embed(np.stack([align_face(frame, f.landmarks, encoder.template) for f in (mt, yu)]))
        assert float(a @ b) > 0.98, f"the two warps give the same face to the encoder (cosine {float(a @ b):.3f})"


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


def test_the_last_stage_export_gives_mtcnn_s_own_outputs() -> None:
    """models/mtcnn-onet.onnx under OpenCV answers as facenet-pytorch's ONet does on real crops."""
    import cv2
    import torch
    from facenet_pytorch.models.mtcnn import ONet

    from gatekeeper.vision.model_files import MODELS_DIR
    from gatekeeper.vision.yunet import ONET_FILE, ONET_OUTPUTS, mtcnn_square, onet_input

    frame = door_frame(astronaut(), np.random.default_rng(0))
    (mt,) = [f for f in FaceDetector.from_profile(PHOTO_PROFILE).detect(frame) if f.score > 0.9]
    batch = np.stack([onet_input(frame, mtcnn_square(mt.box))]).transpose(0, 3, 1, 2).copy()
    net = cv2.dnn.readNetFromONNX(str(MODELS_DIR / ONET_FILE))
    net.setInput(batch)
    ours = net.forward(list(ONET_OUTPUTS))
    with torch.inference_mode():
        theirs = [t.numpy() for t in ONet().eval()(torch.from_numpy(batch))]
    for a, b in zip(ours, theirs):
        assert np.abs(a - b).max() < 1e-4
    assert theirs[2][0, 1] > 0.99, "a face, as MTCNN's own network sees it"


def test_a_damaged_last_stage_stops_the_door(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import shutil

    import gatekeeper.vision.yunet as yunet
    from gatekeeper.vision.model_files import MODELS_DIR

    for name in ("yunet.json", "yunet-n.onnx", "mtcnn-onet.onnx"):
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    (tmp_path / "mtcnn-onet.onnx").write_bytes((MODELS_DIR / "mtcnn-onet.onnx").read_bytes()[:-10])
    monkeypatch.setattr(yunet, "MODELS_DIR", tmp_path)
    with pytest.raises(YuNetFileError, match="mtcnn-onet.onnx"):
        YuNetDetector()


@pytest.mark.parametrize("threads", [1, 2])
def test_the_thread_budget_reaches_opencv(threads: int) -> None:
    """YuNet, MTCNN's last stage and the liveness nets run in OpenCV's DNN, which otherwise takes
    every core for each call: on a shared box that is what pushed the loaded door's p95 past a
    camera frame (bench/vs_dlib.py). The `threads` setting bounds it as it bounds torch's."""
    import cv2

    from gatekeeper.vision.pipeline import FacePipeline

    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(8)
        FacePipeline(Settings(threads=threads))
        assert cv2.getNumThreads() == threads
    finally:
        cv2.setNumThreads(before)
