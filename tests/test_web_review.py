"""The review queue through the console and the API: roles (auditors read the list, never a face
or a change), the actions, and refusals shown by name."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gatekeeper.services.audit import AuditFilter
from tests.conftest import lfw_people
from tests.test_review import visit
from tests.test_web import _csrf, client, gk, sign_in  # noqa: F401  (fixtures)


def _queue(gk, lfw: Path) -> tuple[list[Path], list[Path]]:  # type: ignore[no-untyped-def]
    (_, guevara), (_, stranger) = lfw_people(lfw, 2, 4, skip=12)
    assert gk.enrollment.enroll("emp-guevara", "Ana Guevara", [gk.enrollment.embed_photo(guevara[0])]).enrolled
    visit(gk, guevara[2])
    visit(gk, stranger[0])
    return guevara, stranger


def test_an_auditor_sees_the_queue_but_no_face_and_changes_nothing(client: TestClient, gk, lfw: Path) -> None:  # type: ignore[no-untyped-def]
    _queue(gk, lfw)
    csrf = sign_in(client, "bob")
    page = client.get("/review").text
    assert 'id="captures"' in page and "emp-guevara" in page and "/face" not in page and 'class="assign"' not in page
    captures = client.get("/api/v1/review").json()["captures"]
    assert len(captures) >= 2 and captures[0]["nearest_now"][0]["person_id"] == "emp-guevara"
    cid = captures[0]["capture_id"]
    assert client.get(f"/review/captures/{cid}/face").status_code == 403
    assert client.post(f"/api/v1/review/captures/{cid}/dismiss", headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.post(f"/review/captures/{cid}/not-person", data={"csrf": csrf, "person_id": "emp-guevara"}).status_code == 403
    assert len(gk.review.pending()) == len(captures)


def test_an_admin_works_the_queue_through_the_api(client: TestClient, gk, lfw: Path) -> None:  # type: ignore[no-untyped-def]
    _queue(gk, lfw)
    h = {"X-CSRF-Token": sign_in(client)}
    captures = client.get("/api/v1/review", headers=h).json()["captures"]
    stranger, guevara = captures[0]["capture_id"], captures[-1]["capture_id"]  # newest first
    assert client.get(f"/review/captures/{guevara}/face").content[:2] == b"\xff\xd8"
    nobody = client.post(f"/api/v1/review/captures/{guevara}/assign", json={"person_id": "emp-nobody"}, headers=h)
    assert nobody.status_code == 400 and "emp-nobody" in nobody.json()["detail"]
    done = client.post(f"/api/v1/review/captures/{guevara}/assign", json={"person_id": "emp-guevara"}, headers=h)
    assert done.status_code == 200 and done.json()["enrolled"]
    assert client.post(f"/api/v1/review/captures/{stranger}/not-person", json={"person_id": "emp-guevara"}, headers=h).status_code == 200
    assert {r.actor for r in gk.audit.query(AuditFilter(decision="marked-not-person"))} == {"console:alice"}
    assert client.post(f"/api/v1/review/captures/{stranger}/dismiss", headers=h).status_code == 400, "used up"
    assert client.post("/api/v1/review/candidates/12345/accept", headers=h).status_code == 404
