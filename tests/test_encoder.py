"""The shipped encoder: loads offline, gives unit vectors, and tells two real people apart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gatekeeper.vision.align import DLIB_CHIP_150, TEMPLATE_112, align_face, similarity_transform
from gatekeeper.vision.encoder import DEFAULT_MODEL, MODELS_DIR, FaceEncoder, ModelFileError
from gatekeeper.vision.images import read_rgb
from tests.conftest import lfw_people


def test_alignment_puts_landmarks_on_the_template() -> None:
    rng = np.random.default_rng(1)
    # Landmarks of a face rotated by 20 degrees, scaled x2.5 and shifted.
    a = np.deg2rad(20)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    points = (TEMPLATE_112 - 56) @ rot.T * 2.5 + np.array([300, 200])
    matrix = similarity_transform(points)
    mapped = np.c_[points, np.ones(5)] @ matrix.T
    np.testing.assert_allclose(mapped, TEMPLATE_112, atol=0.05)
    crop = align_face(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), points)
    assert crop.shape == (112, 112, 3)
    chip = align_face(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), points, DLIB_CHIP_150)
    assert chip.shape == (150, 150, 3)
    matrix = similarity_transform(points, DLIB_CHIP_150)
    np.testing.assert_allclose(np.c_[points, np.ones(5)] @ matrix.T, DLIB_CHIP_150.points, atol=3.0)  # a similarity fit


@pytest.mark.parametrize("name", [DEFAULT_MODEL, "doornet-v1"])
def test_shipped_models_have_manifest_weights_and_calibration(name: str) -> None:
    card = json.loads((MODELS_DIR / f"{name}.json").read_text())
    assert card["calibration"]["match_threshold"] > 0
    assert (MODELS_DIR / f"{name}.pt").stat().st_size < 20 * 2**20
    assert (MODELS_DIR / "MODEL_CARD.md").is_file()
    assert FaceEncoder(name).card.sha256 == card["sha256"]


def test_embeddings_are_unit_vectors(encoder: FaceEncoder) -> None:
    size = encoder.template.size
    crops = np.random.default_rng(0).integers(0, 255, (5, size, size, 3), dtype=np.uint8)
    emb = encoder.embed(crops)
    assert emb.shape == (5, encoder.dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert encoder.embed(crops[:0]).shape == (0, encoder.dim)
    with pytest.raises(ValueError, match="takes"):
        encoder.embed(np.zeros((1, 112, 112, 3), np.uint8) if size != 112 else np.zeros((1, 150, 150, 3), np.uint8))


def test_two_lfw_people_are_separated(lfw: Path, encoder: FaceEncoder, detector) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.vision.detect import most_central_face

    people = {name: photos[:4] for name, photos in lfw_people(lfw, 2, 4, skip=40)}
    emb = {}
    for name, photos in people.items():
        crops = []
        for p in photos:
            img = read_rgb(p)
            crops.append(align_face(img, most_central_face(detector.detect(img), img.shape).landmarks, encoder.template))
        emb[name] = encoder.embed(np.stack(crops))
    a, b = emb.values()
    same = np.concatenate([(a @ a.T)[np.triu_indices(4, 1)], (b @ b.T)[np.triu_indices(4, 1)]])
    cross = (a @ b.T).ravel()
    assert same.min() > cross.max(), f"same-person {same.min():.3f} vs cross-person {cross.max():.3f}"


def test_broken_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "doornet-v2.pt"
    bad.write_bytes(b"not a torch file")
    manifest = json.loads((MODELS_DIR / "doornet-v2.json").read_text())
    (tmp_path / "doornet-v2.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="does not match its manifest"):
        FaceEncoder(bad)  # swapped or damaged weights are caught by their digest first
    (tmp_path / "doornet-v2.json").write_text(json.dumps({**manifest, "sha256": None}))
    with pytest.raises(ModelFileError, match="cannot load encoder weights"):
        FaceEncoder(bad)
    (tmp_path / "doornet-v2.json").write_text(json.dumps({**manifest, "architecture": {**manifest["architecture"], "template": "guess"}}))
    with pytest.raises(ModelFileError, match="unknown alignment template"):
        FaceEncoder(bad)
    with pytest.raises(ModelFileError, match="not found"):
        FaceEncoder(tmp_path / "absent.pt")


def test_a_built_wheel_carries_the_models(tmp_path: Path) -> None:
    """A non-editable install must be able to load the default model: the weights are package data."""
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(repo)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("gatekeeper-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (DEFAULT_MODEL, "doornet-v1"):
        assert f"gatekeeper/models/{name}.pt" in names and f"gatekeeper/models/{name}.json" in names
    # The package list in pyproject.toml is explicit: every package of the source tree must be in it.
    packages = {str(p.parent.relative_to(repo)) for p in (repo / "gatekeeper").rglob("__init__.py")}
    missing = sorted(p for p in packages if f"{p}/__init__.py" not in names)
    assert not missing, f"packages missing from the wheel (pyproject.toml [tool.setuptools] packages): {missing}"
    assert "gatekeeper/storage/migrations/versions/0006_audit_covers.py" in names


def test_bf16_precision_gives_the_fp32_embedding_within_rounding() -> None:
    """encoder_precision = bf16 runs the network's matrix work in bfloat16: the embeddings of real
    faces stay within 1e-3 cosine of float32's (the door's decisions do not move)."""
    from gatekeeper.demo import astronaut
    from gatekeeper.vision.align import align_face
    from gatekeeper.vision.detect import PHOTO_PROFILE, FaceDetector

    image = astronaut()
    (face,) = [f for f in FaceDetector.from_profile(PHOTO_PROFILE).detect(image) if f.score > 0.9]
    fp32, bf16 = FaceEncoder(threads=1), FaceEncoder(threads=1, precision="bf16")
    crop = align_face(image, face.landmarks, fp32.template)[None]
    a, b = fp32.embed(crop), bf16.embed(crop)
    assert b.dtype == np.float32 and abs(float(np.linalg.norm(b)) - 1.0) < 1e-5
    assert float(a[0] @ b[0]) > 0.999
