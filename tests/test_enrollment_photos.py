"""Enrollment photos as admins have them: tight badge crops and portraits with people behind the
subject. Real LFW faces of identities the shipped model never trained on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gatekeeper.services.enrollment import embed_image
from gatekeeper.vision.images import read_rgb
from gatekeeper.vision.pipeline import FaceError
from tests.conftest import lfw_people


def _tight(image: np.ndarray, box: np.ndarray, scale: float = 1.1) -> np.ndarray:
    x1, y1, x2, y2 = box
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, scale * max(x2 - x1, y2 - y1) / 2
    return image[int(max(0, cy - half)) : int(cy + half), int(max(0, cx - half)) : int(cx + half)].copy()


def test_a_face_filling_crop_embeds_like_the_full_photo(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    """A badge-style crop (0.9x the face box: the face fills the frame) is detected again inside a
    plain border, so its landmarks and embedding match the full photo's (within 0.02 cosine;
    without the border these crops drift by up to 0.06)."""
    gk = make_app()
    people = lfw_people(lfw, 12, 1, skip=600)
    for name, photos in people:
        image = read_rgb(photos[0])
        full = gk.pipeline.enrollment_face(image, name)
        crop = _tight(image, full.detection.box, 0.9)
        x1, y1, x2, y2 = full.detection.box
        assert max(x2 - x1, y2 - y1) / min(crop.shape[:2]) > 1.0  # the face fills it
        tight = gk.pipeline.enrollment_face(crop, name)
        assert float(full.embedding @ tight.embedding) >= 0.98, name


def _paste(canvas: np.ndarray, photo: np.ndarray, x: int, y: int, size: int) -> None:
    canvas[y : y + size, x : x + size] = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)


def test_someone_in_the_background_does_not_stop_the_subject_enrolling(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    (subject, subject_photos), (other, other_photos) = lfw_people(lfw, 2, 1, skip=520)
    alone = read_rgb(subject_photos[0])
    scene = np.full((400, 600, 3), 90, np.uint8)
    _paste(scene, alone, 175, 75, 250)  # the subject, centred
    _paste(scene, read_rgb(other_photos[0]), 440, 10, 150)  # a smaller face, up in a corner
    taken = gk.pipeline.enrollment_face(scene, "scene.jpg")
    assert len(gk.pipeline.detect(scene, gk.pipeline.enrollment)) >= 2
    assert float(taken.embedding @ gk.pipeline.enrollment_face(alone, subject).embedding) >= 0.98, "the subject was taken, not the background face"
    result = embed_image(gk.pipeline, scene, "scene.jpg")
    assert result.ok and "2 faces" in (result.note or "")


def test_two_equally_prominent_faces_are_refused_saying_why(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    gk = make_app()
    (_, a), (_, b) = lfw_people(lfw, 2, 1, skip=540)
    pair = np.full((300, 600, 3), 90, np.uint8)
    _paste(pair, read_rgb(a[0]), 25, 25, 250)
    _paste(pair, read_rgb(b[0]), 325, 25, 250)
    with pytest.raises(FaceError, match="equally prominent"):
        gk.pipeline.enrollment_face(pair, "pair.jpg")
    assert embed_image(gk.pipeline, pair, "pair.jpg").reason is not None


def test_the_same_photo_file_under_a_second_id_is_refused_by_its_bytes(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    """However large the gallery (and so however strict the similarity rule), enrolling a photo file
    that is already someone's enrollment photo is refused, naming them."""
    gk = make_app()
    (name, photos), = lfw_people(lfw, 1, 2, skip=560)
    assert gk.enrollment.enroll("emp-1", name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    again = gk.enrollment.enroll("contractor-9", "Someone Else", [gk.enrollment.embed_photo(photos[0])])
    assert not again.enrolled and "'emp-1' (similarity 1.000)" in (again.reason or "")
