"""Shared fixtures. Tests on real faces find the datasets at ../shared/datasets or
$GATEKEEPER_DATASETS and skip, saying so, where they are absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gatekeeper.config import Settings

REPO = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    return Path(os.environ.get("GATEKEEPER_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def lfw() -> Path:
    root = datasets_dir() / "lfw"
    if not (root / "pairs.txt").is_file():
        pytest.skip(f"LFW not found at {root} (set GATEKEEPER_DATASETS to the shared datasets folder)")
    return root


@pytest.fixture(scope="session")
def encoder():  # type: ignore[no-untyped-def]
    from gatekeeper.encoder import FaceEncoder

    return FaceEncoder(threads=2)


@pytest.fixture(scope="session")
def detector():  # type: ignore[no-untyped-def]
    from gatekeeper.detect import FaceDetector

    return FaceDetector(min_face_px=20)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", unknown_log_interval_s=0.0, gallery_refresh_s=0.0, door_id="test-door")


@pytest.fixture
def make_app(settings: Settings, encoder, detector):  # type: ignore[no-untyped-def]
    """An App on a fresh SQLite database, sharing the session's encoder and detector."""
    from gatekeeper.app import App
    from gatekeeper.pipeline import FacePipeline

    def build(s: Settings | None = None) -> "App":
        gk = App(s or settings, encoder=encoder)
        gk.__dict__["pipeline"] = FacePipeline(gk.settings, encoder=encoder, detector=detector)
        return gk

    return build


def lfw_people(root: Path, count: int, min_photos: int, skip: int = 0) -> list[tuple[str, list[Path]]]:
    """The first ``count`` LFW people (name order) with at least ``min_photos`` photos."""
    people = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = sorted(folder.glob("*.jpg"))
        if len(photos) >= min_photos:
            people.append((folder.name, photos))
    return people[skip : skip + count]


def door_frame(photo_rgb: np.ndarray, rng: np.random.Generator, size: int = 400) -> np.ndarray:
    """A 640x480 door-camera frame with the photo enlarged to door distance (eyes ~65 px apart)."""
    import cv2

    frame = np.full((480, 640, 3), 110, np.uint8)
    frame += rng.integers(0, 8, frame.shape, dtype=np.uint8)
    person = cv2.resize(photo_rgb, (size, size), interpolation=cv2.INTER_CUBIC)
    x, y = (640 - size) // 2 + int(rng.integers(-15, 16)), (480 - size) // 2 + int(rng.integers(-5, 6))
    frame[y : y + size, x : x + size] = person
    return frame
