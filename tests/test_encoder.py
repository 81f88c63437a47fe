"""The shipped encoder: loads offline, gives unit vectors, and tells two real people apart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gatekeeper.align import TEMPLATE_112, align_face, similarity_transform
from gatekeeper.encoder import MODELS_DIR, FaceEncoder, ModelFileError
from gatekeeper.images import read_rgb
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


def test_shipped_model_has_card_and_calibration() -> None:
    card = json.loads((MODELS_DIR / "doornet-v1.json").read_text())
    assert card["calibration"]["match_threshold"] > 0
    assert (MODELS_DIR / "doornet-v1.pt").stat().st_size < 20 * 2**20
    assert (MODELS_DIR / "MODEL_CARD.md").is_file()


def test_embeddings_are_unit_vectors(encoder: FaceEncoder) -> None:
    crops = np.random.default_rng(0).integers(0, 255, (5, 112, 112, 3), dtype=np.uint8)
    emb = encoder.embed(crops)
    assert emb.shape == (5, encoder.dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert encoder.embed(crops[:0]).shape == (0, encoder.dim)


def test_two_lfw_people_are_separated(lfw: Path, encoder: FaceEncoder, detector) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.detect import most_central_face

    people = {name: photos[:4] for name, photos in lfw_people(lfw, 2, 4, skip=40)}
    emb = {}
    for name, photos in people.items():
        crops = []
        for p in photos:
            img = read_rgb(p)
            crops.append(align_face(img, most_central_face(detector.detect(img), img.shape).landmarks))
        emb[name] = encoder.embed(np.stack(crops))
    a, b = emb.values()
    same = np.concatenate([(a @ a.T)[np.triu_indices(4, 1)], (b @ b.T)[np.triu_indices(4, 1)]])
    cross = (a @ b.T).ravel()
    assert same.min() > cross.max(), f"same-person {same.min():.3f} vs cross-person {cross.max():.3f}"


def test_broken_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "doornet-v1.pt"
    bad.write_bytes(b"not a torch file")
    (tmp_path / "doornet-v1.json").write_text((MODELS_DIR / "doornet-v1.json").read_text())
    with pytest.raises(ModelFileError, match="cannot load encoder weights"):
        FaceEncoder(bad)
    with pytest.raises(ModelFileError, match="not found"):
        FaceEncoder(tmp_path / "absent.pt")
