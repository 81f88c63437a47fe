"""Shared fixtures. Tests on real faces find the datasets at ../shared/datasets or
$GATEKEEPER_DATASETS and skip, saying so, where they are absent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from gatekeeper.config import Settings

REPO = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    return Path(os.environ.get("GATEKEEPER_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture(autouse=True)
def _photos_at_the_door(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most door tests replay photos (LFW, public-domain portraits) to test matching, tracking and
    faults: a liveness-checking door would rightly refuse some of them as photos. Liveness is off
    for those tests (and the processes they start); tests/test_liveness.py turns it on."""
    monkeypatch.setenv("GATEKEEPER_LIVENESS", "off")


@pytest.fixture(scope="session")
def lfw() -> Path:
    root = datasets_dir() / "lfw"
    if not (root / "pairs.txt").is_file():
        pytest.skip(f"LFW not found at {root} (set GATEKEEPER_DATASETS to the shared datasets folder)")
    return root


@pytest.fixture(scope="session")
def encoder():  # type: ignore[no-untyped-def]
    from gatekeeper.vision.encoder import FaceEncoder

    return FaceEncoder(threads=2)


@pytest.fixture(scope="session")
def detector():  # type: ignore[no-untyped-def]
    """The photo detector enrollment uses."""
    from gatekeeper.vision.detect import PHOTO_PROFILE, FaceDetector

    return FaceDetector.from_profile(PHOTO_PROFILE)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", unknown_log_interval_s=0.0, gallery_refresh_s=0.0, door_id="test-door")


@pytest.fixture
def make_app(settings: Settings, encoder):  # type: ignore[no-untyped-def]
    """An App on a fresh SQLite database, sharing the session's encoder; detectors as shipped."""
    from gatekeeper.app import App

    def build(s: Settings | None = None) -> "App":
        return App(s or settings, encoder=encoder)

    return build


def lfw_people(root: Path, count: int, min_photos: int, skip: int = 0) -> list[tuple[str, list[Path]]]:
    """LFW people (name order) with at least ``min_photos`` photos, taken only from View-2 folds
    1-5: the shipped encoder (cross-validation model A) never trained on them."""
    from gatekeeper.training.lfw import read_pairs

    unseen = read_pairs(root / "pairs.txt").identities_in_folds({0, 1, 2, 3, 4})
    people = []
    for folder in sorted(root / name for name in unseen):
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


POSTGRES_ENV = "GATEKEEPER_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh, empty database: SQLite in a temp folder, and PostgreSQL where `.ci/run` started one."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gatekeeper.db'}"
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"no PostgreSQL server: {POSTGRES_ENV} is unset (.ci/run starts one on loopback)")
    import uuid

    import sqlalchemy as sa

    name = f"gk_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield server.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def serve_console(gk) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The web console of ``gk`` served by uvicorn on a free loopback port, in a thread; yields
    its base URL and stops it afterwards."""
    import socket
    import threading
    import time

    import uvicorn

    from gatekeeper.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(gk), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
