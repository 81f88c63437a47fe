"""People through the console and the REST API beyond enrollment: a person's photos listed, added
and removed (the template follows), and "Enroll anyway" after a lookalike refusal without a
second upload, only for the admin who uploaded and only once."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from gatekeeper.demo import astronaut
from gatekeeper.services.accounts import Accounts
from gatekeeper.services.audit import AuditFilter
from gatekeeper.storage.models import Person
from tests.conftest import lfw_people
from tests.test_web import PASSWORD, _csrf, _jpeg, client, gk, sign_in  # noqa: F401  (fixtures)


def _template(gk, person_id: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    with gk.sessions() as s:
        return gk.codec.decode(s.get(Person, person_id).template)


def test_a_persons_photos_are_listed_added_and_removed_and_the_template_follows(client: TestClient, gk, lfw: Path) -> None:  # type: ignore[no-untyped-def]
    (name, photos), = lfw_people(lfw, 1, 3, skip=40)
    h = {"X-CSRF-Token": sign_in(client)}
    first = client.post("/api/v1/people", data={"person_id": "emp-0100", "name": "Someone"}, files=[("photos", ("a.jpg", photos[0].read_bytes(), "image/jpeg"))], headers=h)
    assert first.status_code == 201, first.text
    one = _template(gk, "emp-0100")
    added = client.post("/api/v1/people/emp-0100/photos", files=[("photos", (p.name, p.read_bytes(), "image/jpeg")) for p in photos[1:]], headers=h)
    assert added.status_code == 200 and added.json()["enrolled"], added.text
    listed = client.get("/api/v1/people/emp-0100/photos", headers=h).json()["photos"]
    assert len(listed) == 3 and [p["source"] for p in listed] == ["photo 1", "photo 1", "photo 2"]
    three = _template(gk, "emp-0100")
    assert float(one @ three) < 0.9999, "the template now averages three photos"
    left = client.delete(f"/api/v1/people/emp-0100/photos/{listed[1]['photo_id']}", headers=h).json()["photos"]
    left = client.delete(f"/api/v1/people/emp-0100/photos/{left[1]['photo_id']}", headers=h).json()["photos"]
    assert [p["photo_id"] for p in left] == [listed[0]["photo_id"]]
    np.testing.assert_allclose(_template(gk, "emp-0100"), one, atol=1e-6)  # back to the first photo alone
    last = client.delete(f"/api/v1/people/emp-0100/photos/{left[0]['photo_id']}", headers=h)
    assert last.status_code == 400 and "only photo" in last.json()["detail"]
    assert client.delete("/api/v1/people/emp-0100/photos/999999", headers=h).status_code == 404
    rows = gk.audit.query(AuditFilter(decision="photo-removed"))
    assert len(rows) == 2 and {r.actor for r in rows} == {"console:alice"} and all(r.person_id == "emp-0100" for r in rows)
    hits = gk.enrollment.gallery().search(_template(gk, "emp-0100")[None], k=1)[0]
    assert hits[0].person_id == "emp-0100" and hits[0].similarity > 0.9999, "the index follows the removal"


def test_enroll_anyway_is_one_click_for_the_admin_who_uploaded_and_only_once(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    csrf = sign_in(client)
    upload = [("photos", ("collins.jpg", _jpeg(astronaut()), "image/jpeg"))]
    assert client.post("/enroll", data={"person_id": "emp-0001", "name": "Eileen Collins", "csrf": csrf}, files=upload).status_code == 200
    refused = client.post("/enroll", data={"person_id": "visitor-7", "name": "Eileen C.", "csrf": csrf}, files=upload)
    assert refused.status_code == 422 and "looks like already-enrolled 'emp-0001'" in html.unescape(refused.text) and "--force" not in refused.text
    token = refused.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    Accounts(gk.sessions, gk.audit, "test").create_user("carol", PASSWORD, "admin")
    other = TestClient(client.app)
    other_csrf = sign_in(other, "carol")
    assert other.post("/enroll/anyway", data={"csrf": other_csrf, "token": token}).status_code == 410, "kept for alice, not for another admin"
    done = client.post("/enroll/anyway", data={"csrf": csrf, "token": token})
    assert done.status_code == 200 and "Enrolled" in done.text
    assert client.post("/enroll/anyway", data={"csrf": csrf, "token": token}).status_code == 410, "one use"
    (row,) = [r for r in gk.audit.query(AuditFilter(decision="enrolled")) if r.person_id == "visitor-7"]
    assert row.actor == "console:alice"
    assert client.post("/enroll/anyway", data={"token": token}).status_code == 403, "a cross-site post without the CSRF token is refused"


def test_the_person_page_removes_one_photo_with_a_button(client: TestClient, gk, lfw: Path) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.services.enrollment import embed_photo

    (name, photos), = lfw_people(lfw, 1, 2, skip=40)
    assert gk.enrollment.enroll("emp-0200", name, [embed_photo(gk.pipeline, p) for p in photos[:2]]).enrolled
    sign_in(client)
    page = client.get("/people/emp-0200").text
    photo_id = page.split('id="remove-photo-', 1)[1].split('"', 1)[0]
    done = client.post(f"/people/emp-0200/photos/{photo_id}/remove", data={"csrf": _csrf(page)}, follow_redirects=True)
    assert done.status_code == 200 and "photo removed" in done.text and 'id="remove-photo-' not in done.text, "the last photo has no remove button"
