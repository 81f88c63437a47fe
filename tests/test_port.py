"""The port of dlib's CC0 ResNet: the same descriptors as dlib on real faces, and a reader that
refuses what it does not understand. Skipped where the train extra (dlib, its model files) is absent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gatekeeper.vision.encoders.dlib_dat import DlibFormatError, read_dlib_network
from gatekeeper.vision.images import read_rgb
from tests.conftest import lfw_people


@pytest.fixture(scope="module")
def dlib_files():  # type: ignore[no-untyped-def]
    models = pytest.importorskip("face_recognition_models", reason="install the train extra for dlib's model files")
    return Path(models.face_recognition_model_location()), Path(models.pose_predictor_five_point_model_location())


def test_port_matches_dlib_on_real_faces(lfw: Path, dlib_files) -> None:  # type: ignore[no-untyped-def]
    dlib = pytest.importorskip("dlib", reason="dlib (train extra) is the reference the port is checked against")
    from gatekeeper.vision.encoder import FaceEncoder, resolve_model_path
    from gatekeeper.training.port import ported_network

    recogniser, shape_file = dlib_files
    finder, shape = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(shape_file))
    reference = dlib.face_recognition_model_v1(str(recogniser))
    port, shipped = ported_network(), FaceEncoder("doornet-v2")
    chips = []
    for _, photos in lfw_people(lfw, count=30, min_photos=2, skip=100):
        for photo in photos[:2]:
            image = read_rgb(photo)
            boxes = finder(image, 1)
            if len(boxes) == 1:
                chips.append(dlib.get_face_chip(image, shape(image, boxes[0]), size=150, padding=0.25))
    assert len(chips) >= 50
    ours = port.raw_descriptor(port.normalise_input(torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2))).detach().numpy()
    theirs = np.stack([np.asarray(reference.compute_face_descriptor(c)) for c in chips])
    cos = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cos.min() >= 0.9999, f"worst cosine to dlib {cos.min():.6f}"
    manifest = json.loads(resolve_model_path("doornet-v2").with_suffix(".json").read_text())
    if not manifest["training"]["fine_tuned"]:  # the shipped model is the fp16 copy of the port itself
        with torch.no_grad():
            half = shipped.net.raw_descriptor(shipped.net.normalise_input(torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2))).numpy()
        cos16 = (half * theirs).sum(1) / np.linalg.norm(half, axis=1) / np.linalg.norm(theirs, axis=1)
        assert cos16.min() >= 0.9999


def test_reader_refuses_a_damaged_file(dlib_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = dlib_files[0].read_bytes()
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DlibFormatError, match="offset"):
        read_dlib_network(truncated)
    extra = tmp_path / "extra.dat"
    extra.write_bytes(data + b"\x00")
    with pytest.raises(DlibFormatError, match="unread bytes"):
        read_dlib_network(extra)
    other = tmp_path / "other.dat"
    other.write_bytes(dlib_files[1].read_bytes())  # the shape model: a dlib file, not this network
    with pytest.raises(DlibFormatError):
        read_dlib_network(other)
