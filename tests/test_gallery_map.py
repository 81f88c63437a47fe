"""The gallery map: real faces placed and the closest pair found (two ids with one face, the
pair an admin must look at), drawn in the background and redrawn when the gallery changes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from gatekeeper.demo import astronaut
from gatekeeper.services.enrollment import embed_image
from gatekeeper.services.gallery_map import draw_gallery_map
from gatekeeper.storage.database import bump_generation
from gatekeeper.storage.models import Person
from tests.conftest import lfw_people
from tests.test_web import client, gk, sign_in  # noqa: F401  (fixtures)


def add_synthetic_people(gk, count: int, seed: int = 0) -> None:  # type: ignore[no-untyped-def]
    """``count`` people with random unit templates, written straight to the database: what the
    map's rendering costs depends on how many points there are, not on whose faces they are."""
    rng, encoder = np.random.default_rng(seed), gk.pipeline.encoder  # built before the transaction: it reads the database
    vectors = rng.normal(size=(count, encoder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codec = gk.codec
    with gk.sessions.begin() as s:
        bump_generation(s)
        start = 1 + (s.query(Person).count())
        s.add_all(Person(person_id=f"syn-{i:05d}", name=f"Synthetic {i}", vector_id=start + i, template=codec.encode(v), model_version=encoder.version)
                  for i, v in enumerate(vectors))


def _wait_for_map(client: TestClient) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = client.get("/map").text
        if 'id="gallery-map"' in page:
            return page
        assert 'http-equiv="refresh"' in page, "a page that is still drawing reloads itself"
        time.sleep(0.1)
    raise AssertionError("the map was never drawn")


def test_the_closest_pair_is_the_face_enrolled_under_two_ids(client: TestClient, gk, lfw: Path) -> None:  # type: ignore[no-untyped-def]
    for name, photos in lfw_people(lfw, 4, 1, skip=200):
        assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    face = embed_image(gk.pipeline, astronaut(), "astronaut")
    assert gk.enrollment.enroll("emp-0001", "Eileen Collins", [face]).enrolled
    assert gk.enrollment.enroll("visitor-9", "E. Collins", [face], force=True).enrolled
    drawn = draw_gallery_map(gk.sessions, gk.codec, gk.pipeline.encoder.version)
    assert len(drawn.person_ids) == 6 and drawn.points.shape == (6, 2) and drawn.points.min() >= 0 and drawn.points.max() <= 1
    top = drawn.closest[0]
    assert {top.first, top.second} == {"emp-0001", "visitor-9"} and top.similarity > 0.99
    sign_in(client, "bob")
    page = _wait_for_map(client)
    first_row = page.split('id="closest-pairs"', 1)[1].split("</tr>", 2)[1]
    assert "emp-0001" in first_row and "visitor-9" in first_row and "above the threshold" in first_row
    points = client.get("/map/points").json()["people"]
    assert sorted(p[0] for p in points) == sorted(drawn.person_ids)
    gk.enrollment.remove("visitor-9")
    assert "refresh" in client.get("/map").text, "a changed gallery is drawn again"
    assert "visitor-9" not in _wait_for_map(client)
