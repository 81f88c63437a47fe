"""Liveness on real samples (NUAA prints and bona fide frames, ZJU live clips): printed photos of
an enrolled person are refused at the door as `denied-spoof`, live faces pass, and a door without
its liveness model stays shut."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gatekeeper.config import Settings
from gatekeeper.core.types import Decision
from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.vision.model_files import MODELS_DIR
from gatekeeper.services.audit import AuditFilter
from gatekeeper.match.thresholds import liveness_threshold
from gatekeeper.vision.images import read_rgb
from gatekeeper.vision.liveness import EyeOpenness, LivenessModelError, PassiveLiveness
from gatekeeper.vision.pipeline import FacePipeline
from tests.conftest import datasets_dir


@pytest.fixture(scope="module")
def nuaa() -> Path:
    root = datasets_dir() / "liveness" / "nuaa-sample"
    if not (root / "print").is_dir():
        pytest.skip(f"NUAA sample not found at {root}")
    return root


@pytest.fixture(scope="module")
def passive() -> PassiveLiveness:
    return PassiveLiveness()


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    """The passive check alone: the NUAA frames are stills sampled from a sequence, with no blink."""
    return settings.model_copy(update={"liveness": "passive"})


@pytest.fixture
def door_settings(settings: Settings) -> Settings:
    """A door that also asks for a blink (passive+blink)."""
    return settings.model_copy(update={"liveness": "passive+blink"})


def _scores(pipeline: FacePipeline, photos: list[Path]) -> list[float]:
    out = []
    for photo in photos:
        faces = [f for f in pipeline.analyse(read_rgb(photo)) if f.liveness is not None]
        out += [faces[0].liveness] if faces else []
    return out


def test_printed_photos_score_below_the_default_threshold_and_live_faces_above(nuaa: Path, live_settings: Settings, encoder, passive) -> None:  # type: ignore[no-untyped-def]
    pipeline = FacePipeline(live_settings, encoder, passive)
    threshold = liveness_threshold(live_settings)
    assert threshold is not None
    prints = _scores(pipeline, sorted((nuaa / "print").glob("*.jpg"))[::4])
    real = _scores(pipeline, sorted((nuaa / "real").glob("*.jpg"))[::3])
    assert len(prints) >= 20 and len(real) >= 15
    assert max(prints) < threshold, "every printed-photo frame is refused"
    assert np.mean([s >= threshold for s in real]) >= 0.9, f"bona fide frames pass: {sorted(real)[:5]}"


def _door(make_app, live_settings: Settings, nuaa: Path, person: str):  # type: ignore[no-untyped-def]
    gk = make_app(live_settings)
    enrolled = sorted((nuaa / "real").glob(f"{person}_*.jpg"))
    results = [r for r in (gk.enrollment.embed_photo(p) for p in enrolled[:6]) if r.ok][:2]  # enrollment photos are not liveness-checked
    assert gk.enrollment.enroll(person, f"subject {person}", results).enrolled
    return gk, {Path(r.path) for r in results}


def test_a_printed_photo_of_an_enrolled_person_is_refused_as_a_spoof(nuaa: Path, make_app, live_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    gk, _ = _door(make_app, live_settings, nuaa, "0015")
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    for i, photo in enumerate(sorted((nuaa / "print").glob("0015_*.jpg"))[:3]):
        daemon.process_frame(read_rgb(photo), 0.1 * i)
    assert actuator.unlocks == []
    (row,) = gk.audit.query(AuditFilter(door_id=live_settings.door_id))
    assert row.decision == Decision.DENIED_SPOOF and row.nearest_id == "0015" and row.person_id is None
    assert row.quality["liveness"] < gk.thresholds.liveness and "not a live face" in row.detail


def test_the_same_person_live_is_let_in(nuaa: Path, make_app, live_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    gk, enrolled = _door(make_app, live_settings, nuaa, "0015")
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    visits = [p for p in sorted((nuaa / "real").glob("0015_*.jpg")) if p not in enrolled][-3:]
    for i, photo in enumerate(visits):
        daemon.process_frame(read_rgb(photo), 0.1 * i)
    assert [p for _, p in actuator.unlocks] == ["0015"]
    (row,) = gk.audit.query(AuditFilter(decision=Decision.GRANTED))
    assert row.quality["liveness"] >= gk.thresholds.liveness


def test_a_missing_liveness_model_keeps_the_door_shut(tmp_path: Path, live_settings: Settings, encoder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LivenessModelError, match="stays shut"):
        PassiveLiveness(tmp_path)
    damaged = tmp_path / "models"
    shutil.copytree(MODELS_DIR, damaged, ignore=shutil.ignore_patterns("doornet-*"))
    (damaged / "minifasnet-v2.onnx").write_bytes(b"not the published weights")
    with pytest.raises(LivenessModelError, match="sha256"):
        PassiveLiveness(damaged)
    with pytest.raises(LivenessModelError, match="eye model.*stays shut"):
        EyeOpenness(tmp_path)  # no eye model: no blink can be seen
    (damaged / "iris-landmark.tflite").write_bytes(b"not the published model")
    with pytest.raises(LivenessModelError, match="sha256"):
        EyeOpenness(damaged)


def test_a_liveness_manifest_without_calibration_is_refused(tmp_path: Path, live_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import gatekeeper.match.thresholds as thresholds

    manifest = json.loads((MODELS_DIR / "liveness.json").read_text())
    manifest["calibration"] = {}
    (tmp_path / "liveness.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(thresholds, "MODELS_DIR", tmp_path)
    with pytest.raises(ValueError, match="GATEKEEPER_MIN_LIVE_SCORE"):
        liveness_threshold(live_settings)
    assert liveness_threshold(live_settings.model_copy(update={"min_live_score": 0.4})) == 0.4


def test_verify_reports_the_passive_score(nuaa: Path, make_app, live_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from gatekeeper.cli import app as cli

    _door(make_app, live_settings, nuaa, "0015")
    monkeypatch.setenv("GATEKEEPER_DATA_DIR", str(live_settings.data_dir))
    monkeypatch.setenv("GATEKEEPER_LIVENESS", "passive")
    printed = sorted((nuaa / "print").glob("0015_*.jpg"))[0]
    out = CliRunner().invoke(cli, ["verify", str(printed), "--format", "json"])
    assert out.exit_code == 0, out.output
    (face,) = json.loads(out.output)[0]["faces"]
    assert face["liveness"] is not None and face["liveness"] < 0.1 and face["live"] is False


def _zju_clip() -> Path:
    root = datasets_dir() / "liveness" / "zju-blink-sample"
    clip = root / "37" / "000010M_FNN.avi"  # blinks within 3 s (bench/liveness.py: depth 0.31)
    if not clip.is_file():
        pytest.skip(f"ZJU sample not found at {root}")
    return clip


def _frames(clip: Path) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def test_a_live_person_who_blinks_is_let_in(make_app, door_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """A ZJU webcam clip of a live person, enrolled from one of its frames: passive and blink pass."""
    from gatekeeper.services.enrollment import embed_image

    frames = _frames(_zju_clip())
    gk = make_app(door_settings)
    enrolled = gk.enrollment.enroll("zju-37", "ZJU 37", [embed_image(gk.pipeline, frames[0], "frame 1")])
    assert enrolled.enrolled, enrolled
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    for i, frame in enumerate(frames[1:91]):  # three seconds at 30 fps
        daemon.process_frame(frame, i / 30)
    assert [p for _, p in actuator.unlocks] == ["zju-37"], [(r.decision, r.detail) for r in gk.audit.query(AuditFilter(door_id=door_settings.door_id))]


def test_a_still_photo_sliding_across_the_frame_is_refused(lfw: Path, make_app, door_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """An enrolled person's photo moved in front of the camera: it may fool the passive nets (a
    clean digital photo often does), but it never blinks. Refused when the window ends."""
    from tests.conftest import door_frame, lfw_people

    (name, photos), = lfw_people(lfw, 1, 3, skip=30)
    gk = make_app(door_settings)
    results = [r for r in (gk.enrollment.embed_photo(p) for p in photos) if r.ok]
    assert gk.enrollment.enroll(name, name, results[:2]).enrolled
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    rng = np.random.default_rng(4)
    image = read_rgb(photos[0])
    for t in range(int(door_settings.liveness_window_s * 15) + 15):  # longer than the window, at 15 fps
        daemon.process_frame(door_frame(image, rng, size=360 + t // 2), t / 15)
    assert actuator.unlocks == []
    rows = gk.audit.query(AuditFilter(door_id=door_settings.door_id))
    assert [r.decision for r in rows] == [Decision.DENIED_SPOOF] and rows[0].nearest_id == name


def test_the_door_runtime_gives_the_networks_outputs(nuaa: Path, passive: PassiveLiveness) -> None:
    """The ONNX files OpenCV runs at the door compute what the MiniFASNet written here computes
    from the published state dicts, on real crops of both kinds."""
    import torch

    from gatekeeper.vision.detect import FaceDetector
    from gatekeeper.vision.minifasnet import MiniFASNet, load_state
    from gatekeeper.vision.liveness import liveness_crop

    manifest = json.loads((MODELS_DIR / "liveness.json").read_text())
    detector = FaceDetector(min_face_px=64)
    for photo in (sorted((nuaa / "real").glob("*.jpg"))[0], sorted((nuaa / "print").glob("*.jpg"))[0]):
        image = read_rgb(photo)
        face = max(detector.detect(image), key=lambda f: f.width)
        for spec, runtime in zip(manifest["nets"], passive.nets):
            crop = liveness_crop(np.ascontiguousarray(image[:, :, ::-1]), face.box, runtime.scale).astype(np.float32).transpose(2, 0, 1)[None]
            with torch.inference_mode():
                expected = MiniFASNet(load_state(MODELS_DIR / spec["file"]))(torch.from_numpy(crop)).numpy()
            runtime.net.setInput(np.ascontiguousarray(crop))
            np.testing.assert_allclose(runtime.net.forward(), expected, atol=1e-4)


def test_the_public_api_reports_the_passive_score(nuaa: Path, tmp_path: Path) -> None:
    import gatekeeper

    door = gatekeeper.open(tmp_path / "data", liveness="passive")
    real = sorted((nuaa / "real").glob("0015_*.jpg"))
    assert door.enroll("0015", "subject 0015", real[:2]).enrolled
    (printed,) = door.identify(read_rgb(sorted((nuaa / "print").glob("0015_*.jpg"))[0]))
    (live,) = door.identify(read_rgb(real[-1]))
    assert printed.liveness is not None and live.liveness is not None and printed.liveness < 0.1 < live.liveness


def test_liveness_beside_the_encoder_gives_what_it_gives_in_turn(nuaa: Path, door_settings: Settings, encoder, passive) -> None:  # type: ignore[no-untyped-def]
    """The door runs the liveness checks on a second thread while the encoder runs: the scores,
    eye measurements and embeddings are those of running the stages one after the other."""
    pipeline = FacePipeline(door_settings, encoder, passive)
    for photo in (sorted((nuaa / "real").glob("*.jpg"))[0], sorted((nuaa / "print").glob("*.jpg"))[0]):
        image = read_rgb(photo)
        in_turn = pipeline.judged_faces(image)
        pipeline.check_liveness(image, pipeline.door, in_turn, in_turn)
        pipeline.embed(in_turn, pipeline.door)
        beside = pipeline.judged_faces(image)
        pipeline.embed_with_liveness(image, beside, pipeline.door, beside, beside)
        assert [f.usable for f in beside] == [f.usable for f in in_turn] and any(f.usable for f in beside)
        for a, b in zip(in_turn, beside):
            assert a.liveness == b.liveness and a.eyes == b.eyes
            np.testing.assert_array_equal(a.embedding, b.embedding)


def test_a_liveness_failure_beside_the_encoder_keeps_the_door_shut(nuaa: Path, make_app, live_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """The checks run on another thread; an exception there still fails the frame closed, logged."""
    gk, enrolled = _door(make_app, live_settings, nuaa, "0015")
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)

    def broken(image, faces):  # type: ignore[no-untyped-def]
        raise RuntimeError("liveness net crashed")

    gk.pipeline.passive.scores = broken
    visits = [p for p in sorted((nuaa / "real").glob("0015_*.jpg")) if p not in enrolled][-3:]
    verdicts = [daemon.process_frame(read_rgb(photo), 0.1 * i) for i, photo in enumerate(visits)]
    assert actuator.unlocks == []
    assert all(v.decision == Decision.ERROR and "liveness net crashed" in v.detail for (v,) in verdicts)
    rows = gk.audit.query(AuditFilter(door_id=live_settings.door_id))
    assert rows and all(r.decision == Decision.ERROR for r in rows)


def test_enrollment_photos_start_no_liveness_thread(nuaa: Path, door_settings: Settings, encoder, passive) -> None:  # type: ignore[no-untyped-def]
    """Enrollment is never liveness-checked, so it never starts the helper thread (its worker
    processes must not be forked from a process running one for nothing)."""
    pipeline = FacePipeline(door_settings, encoder, passive)
    (face,) = [f for f in pipeline.analyse(read_rgb(sorted((nuaa / "real").glob("*.jpg"))[0]), pipeline.enrollment) if f.usable]
    assert face.embedding is not None and face.liveness is None and face.eyes is None
    assert "_liveness_worker" not in vars(pipeline)
    pipeline.analyse(read_rgb(sorted((nuaa / "real").glob("*.jpg"))[0]))
    assert "_liveness_worker" in vars(pipeline), "a door frame is checked beside the encoder"


def test_the_console_and_cli_say_what_the_liveness_mode_lets_in(settings: Settings) -> None:
    """The measured figures per attack type travel with the manifest and are said where an admin
    looks: prints and injected stills with 95 % intervals, and what was not measured."""
    from gatekeeper.match.thresholds import liveness_outlook

    passive = liveness_outlook(settings.model_copy(update={"liveness": "passive"}))
    blink = liveness_outlook(settings.model_copy(update={"liveness": "passive+blink"}))
    assert "printed photos let in 0/118" in passive and "95 % CI" in passive and "not measured: screen replay" in passive
    assert "still images injected" in passive and "still images injected into the video stream let in 0/" in blink
    assert "let in" in liveness_outlook(settings.model_copy(update={"liveness": "off"}))
