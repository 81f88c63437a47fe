"""encoder_precision = int8: door frames embedded by the int8 export under ONNX Runtime. Its
embeddings agree with the full-precision encoder's on real faces, a door on it grants the enrolled
person and refuses another, and a damaged or mismatched export stops the door."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gatekeeper.demo import astronaut, grace_hopper
from gatekeeper.vision.align import align_face
from gatekeeper.vision.model_card import ModelFileError
from gatekeeper.vision.model_files import MODELS_DIR
from gatekeeper.vision.onnx_encoder import Int8FaceEncoder
from tests.conftest import door_frame, lfw_people


@pytest.fixture(scope="module")
def int8() -> Int8FaceEncoder:
    return Int8FaceEncoder(threads=1)


def _crops(encoder, detector, photos: list[np.ndarray]) -> np.ndarray:  # type: ignore[no-untyped-def]
    faces = [max(detector.detect(p), key=lambda f: f.width) for p in photos]
    return np.stack([align_face(p, f.landmarks, encoder.template) for p, f in zip(photos, faces)])


def test_int8_embeddings_agree_with_full_precision_on_real_faces(int8, encoder, detector) -> None:  # type: ignore[no-untyped-def]
    crops = _crops(encoder, detector, [astronaut(), grace_hopper()])
    for flip in (True, False):
        ours, full = int8.embed(crops, flip=flip), encoder.embed(crops, flip=flip)
        assert ours.dtype == np.float32 and np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert (np.sum(ours * full, axis=1) > 0.998).all(), np.sum(ours * full, axis=1)
    assert int8.version == encoder.version, "one model, one embedding space: galleries stay valid"
    assert float(int8.embed(crops[:1])[0] @ int8.embed(crops[1:])[0]) < 0.9, "two people stay apart"


def test_int8_agrees_on_lfw_faces(int8, encoder, detector, lfw: Path) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.vision.images import read_rgb

    photos = [read_rgb(paths[0]) for _, paths in lfw_people(lfw, 30, 1, skip=40)]
    crops = _crops(encoder, detector, photos)
    cosine = np.sum(int8.embed(crops) * encoder.embed(crops), axis=1)
    assert cosine.min() > 0.999, f"worst of {len(crops)} LFW faces: {cosine.min():.5f}"


def test_a_door_on_int8_grants_the_enrolled_face_and_refuses_another(make_app, settings) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.door.actuate import LogOnlyActuator
    from gatekeeper.services.enrollment import embed_image

    gk = make_app(settings.model_copy(update={"encoder_precision": "int8"}))
    assert isinstance(gk.pipeline.door.encoder, Int8FaceEncoder) and gk.pipeline.enrollment.encoder is None, "enrollment stays full precision"
    assert gk.enrollment.enroll("emp-0042", "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "astronaut")]).enrolled
    actuator, rng = LogOnlyActuator(), np.random.default_rng(1)
    daemon = gk.daemon(actuator)
    for i in range(4):
        daemon.process_frame(door_frame(grace_hopper(), rng), i / 15)
    assert actuator.unlocks == []
    for i in range(4, 8):
        daemon.process_frame(door_frame(astronaut(), rng), i / 15)
    assert actuator.unlocks == [(settings.door_id, "emp-0042")]


def _copy_model(folder: Path) -> Path:
    for name in ("doornet-v2.pt", "doornet-v2.json", "doornet-v2-int8.onnx"):
        shutil.copy(MODELS_DIR / name, folder / name)
    return folder / "doornet-v2.pt"


def test_a_damaged_int8_export_stops_the_door(tmp_path: Path) -> None:
    weights = _copy_model(tmp_path)
    (tmp_path / "doornet-v2-int8.onnx").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match="sha256"):
        Int8FaceEncoder(weights)


def test_an_export_of_other_weights_is_refused(tmp_path: Path) -> None:
    """An int8 file built from an earlier model would put door probes in another space than the
    gallery's templates: the manifest ties the export to the weights' sha256."""
    weights = _copy_model(tmp_path)
    card = json.loads((tmp_path / "doornet-v2.json").read_text())
    card["onnx_int8"]["source_sha256"] = "0" * 64
    (tmp_path / "doornet-v2.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="built from other weights"):
        Int8FaceEncoder(weights)
    del card["onnx_int8"]
    (tmp_path / "doornet-v2.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="no int8 export"):
        Int8FaceEncoder(weights)


def test_the_int8_export_holds_no_shape_arithmetic() -> None:
    """dlib's zero-padded shortcut, once written as slice writes into a zero tensor, exported as
    ~30 Shape/Gather/Slice/ScatterND nodes per down block, which took more of the int8 encoder's
    time than its convolutions; exported as Pad it runs in about half the time."""
    onnx = pytest.importorskip("onnx", reason="onnx is in the train extra")
    ops = {node.op_type for node in onnx.load(str(MODELS_DIR / "doornet-v2-int8.onnx")).graph.node}
    assert not ops & {"ScatterND", "Slice", "Gather", "Range", "Where"}, sorted(ops)
    assert "Pad" in ops


def test_door_thresholds_move_with_the_int8_probes_and_nothing_else(make_app, settings) -> None:  # type: ignore[no-untyped-def]
    """The int8 probes score a little lower against fp32 templates (quantization noise): the card's
    door thresholds move by the shift the export's manifest records; explicit settings and the
    enrollment's duplicate rule do not."""
    from gatekeeper.vision.model_files import manifest_calibration

    cal = manifest_calibration("doornet-v2")
    shift = json.loads((MODELS_DIR / "doornet-v2.json").read_text())["onnx_int8"]["similarity_shift"]
    assert -0.002 < shift < 0, shift
    full = make_app(settings.model_copy(update={"encoder_precision": "fp32"})).thresholds
    int8 = make_app(settings.model_copy(update={"encoder_precision": "int8"})).thresholds
    assert full.match == pytest.approx(cal["match_threshold"]) and int8.match == pytest.approx(cal["match_threshold"] + shift)
    assert int8.card == pytest.approx(full.card + shift) and int8.floor == pytest.approx(full.floor + shift)
    for size in (10, 1000, 10_000):
        assert int8.for_gallery(size).match == pytest.approx(full.for_gallery(size).match + shift)
        assert int8.duplicate_for(size) == full.duplicate_for(size)
    fixed = make_app(settings.model_copy(update={"encoder_precision": "int8", "min_match_similarity": 0.95})).thresholds
    assert fixed.for_gallery(1000).match == 0.95


def test_the_export_command_rebuilds_an_export_that_agrees(tmp_path: Path, lfw: Path) -> None:
    """`gatekeeper train encoder-int8` end to end on real faces (fewer of them than the shipped
    export's 400): the written model embeds the calibration faces within 0.001 cosine of fp32 and
    lowers similarities by a small measured shift, as the manifest will record; nothing is left
    beside the model (it was moved into place)."""
    pytest.importorskip("onnx", reason="the export (ONNX Runtime's quantizer) needs onnx, in the train extra: pip install -e '.[train]'")
    from gatekeeper.config import Settings
    from gatekeeper.training.encoder_int8 import calibration_faces, export_int8, loosest_door_threshold
    from gatekeeper.vision.pipeline import FacePipeline

    pipeline = FacePipeline(Settings(liveness="off"))
    crops = calibration_faces(pipeline, 150)
    assert len(crops) > 120, "most first photos of LFW people pass enrollment's reading"
    export = export_int8(pipeline.encoder, crops, tmp_path / "doornet-int8.onnx", loosest_door_threshold(pipeline.encoder))
    assert export.cosine_min > 0.999 and export.cosine_mean > 0.9995, (export.cosine_min, export.cosine_mean)
    assert -0.002 < export.similarity_shift < 0.0005, export.similarity_shift
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doornet-int8.onnx"]


def test_the_export_command_without_lfw_refuses_naming_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No datasets where the command looks: one clear refusal naming the folder and the setting,
    before anything is exported or written."""
    from typer.testing import CliRunner

    from gatekeeper.cli import app

    monkeypatch.setenv("GATEKEEPER_DATASETS", str(tmp_path / "nowhere"))
    before = {p.name: p.stat().st_mtime_ns for p in MODELS_DIR.iterdir()}
    result = CliRunner().invoke(app, ["train", "encoder-int8"])
    assert result.exit_code == 2, result.output
    assert str(tmp_path / "nowhere" / "lfw") in result.output and "GATEKEEPER_DATASETS" in result.output
    assert {p.name: p.stat().st_mtime_ns for p in MODELS_DIR.iterdir()} == before
