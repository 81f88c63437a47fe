"""The access policy through the console and the REST API: the same writer as the CLI, audited
with the console user or token, roles enforced on the server, lockdown with a confirmation."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gatekeeper.demo import astronaut
from gatekeeper.services.accounts import Accounts
from gatekeeper.services.audit import AuditFilter
from gatekeeper.services.enrollment import embed_image
from tests.test_web import _csrf, client, gk, sign_in  # noqa: F401  (fixtures)


def _enroll(gk, person_id: str = "emp-0001") -> None:  # type: ignore[no-untyped-def]
    assert gk.enrollment.enroll(person_id, "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "astronaut")]).enrolled


def test_an_hr_system_sets_up_a_contractor_through_the_api(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    _enroll(gk)
    secret = Accounts(gk.sessions, gk.audit, "test").create_token("hr-system", "admin")
    h = {"Authorization": f"Bearer {secret}"}  # an HR or visitor system: a token, no browser session
    assert client.put("/api/v1/access/doors/lab", json={"name": "Lab", "timezone": "Europe/Berlin"}, headers=h).status_code == 200
    assert client.put("/api/v1/access/schedules/office", json={"windows": ["mon-fri 08:00-18:00"], "holidays": ["2026-12-25"]}, headers=h).status_code == 200
    assert client.put("/api/v1/access/groups/contractors", json={"override": False}, headers=h).status_code == 200
    assert client.post("/api/v1/access/grants", json={"group": "contractors", "door_id": "lab", "schedule": "office"}, headers=h).status_code == 200
    assert client.post("/api/v1/access/groups/contractors/members", json={"person_ids": ["emp-0001"]}, headers=h).status_code == 200
    person = client.put("/api/v1/access/people/emp-0001/validity", json={"valid_until": "2026-12-11"}, headers=h).json()
    assert person["groups"] == ["contractors"] and person["valid_until"] == "2026-12-11"
    # Thursday 10:00 in Berlin: inside the window and the validity
    yes = client.get("/api/v1/access/check", params={"person_id": "emp-0001", "door_id": "lab", "at": "2026-12-10T10:00"}, headers=h).json()
    assert yes["permitted"] and "contractors" in yes["via"]
    late = client.get("/api/v1/access/check", params={"person_id": "emp-0001", "door_id": "lab", "at": "2026-12-14T10:00"}, headers=h).json()
    assert not late["permitted"] and "expired" in late["reason"]
    night = client.get("/api/v1/access/check", params={"person_id": "emp-0001", "door_id": "lab", "at": "2026-12-10T22:00"}, headers=h).json()
    assert not night["permitted"] and "office" in night["reason"]
    suspended = client.put("/api/v1/access/people/emp-0001/suspension", json={"suspended": True}, headers=h).json()
    assert suspended["suspended"] is True
    policy = client.get("/api/v1/access", headers=h).json()
    assert [d["door_id"] for d in policy["doors"]] == ["lab"] and policy["groups"][0]["members"] == ["emp-0001"]
    rows = gk.audit.query(AuditFilter(decision="access-changed"))
    assert rows and {r.actor for r in rows} == {"console:token:hr-system"}, "every change names the token that made it"


def test_bad_policy_input_is_refused_by_name_and_changes_nothing(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    csrf = sign_in(client)
    h = {"X-CSRF-Token": csrf}
    bad_zone = client.put("/api/v1/access/doors/lab", json={"timezone": "Mars/Olympus"}, headers=h)
    assert bad_zone.status_code == 400 and "Mars/Olympus" in bad_zone.json()["detail"]
    bad_window = client.put("/api/v1/access/schedules/odd", json={"windows": ["someday 25:00-26:00"]}, headers=h)
    assert bad_window.status_code == 400
    hostile = client.put("/api/v1/access/groups/%3Cscript%3E", json={}, headers=h)
    assert hostile.status_code == 400 and "not allowed" in hostile.json()["detail"]
    assert client.get("/api/v1/access").json() == {"doors": [], "schedules": [{"name": "always", "description": client.get("/api/v1/access").json()["schedules"][0]["description"]}], "groups": []}
    assert not gk.audit.query(AuditFilter(decision="access-changed"))


def test_an_auditor_reads_the_policy_but_cannot_lock_a_door(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    gk.access.set_door("lab")
    csrf = sign_in(client, "bob")
    assert client.get("/api/v1/access").status_code == 200
    page = client.get("/access").text
    assert "lab" in page and "Lock down" not in page and 'id="door-form"' not in page
    assert client.post("/api/v1/access/doors/lab/lockdown", headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.post("/access/doors/lab/lockdown", data={"csrf": csrf}).status_code == 403
    assert client.get("/access/doors/lab/lockdown", headers={"accept": "text/html"}).status_code == 403
    assert not gk.access.doors()[0].lockdown


def test_lockdown_from_the_console_needs_a_confirmation_and_the_csrf_token(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    gk.access.set_door("lab")
    csrf = sign_in(client)
    confirm = client.get(client.get("/access").text.split('id="lockdown-lab"')[0].rsplit('href="', 1)[1].split('"')[0])
    assert confirm.status_code == 200 and "Only members of groups that pass lockdown" in confirm.text
    assert not gk.access.doors()[0].lockdown, "the first click only asks"
    assert client.post("/access/doors/lab/lockdown", data={}).status_code == 403, "a forged cross-site post is refused"
    done = client.post("/access/doors/lab/lockdown", data={"csrf": _csrf(confirm.text)}, follow_redirects=True)
    assert done.status_code == 200 and "door lab locked down" in done.text and 'id="release-lab"' in done.text
    (row,) = gk.audit.query(AuditFilter(decision="lockdown"))
    assert row.actor == "console:alice"
    client.post("/access/doors/lab/release", data={"csrf": csrf})
    assert not gk.access.doors()[0].lockdown and gk.audit.query(AuditFilter(decision="released"))


def test_the_page_forms_write_the_policy_and_show_refusals(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    _enroll(gk)
    csrf = sign_in(client)
    client.post("/access/doors", data={"csrf": csrf, "door_id": "lab", "tz": "Asia/Tokyo"})
    client.post("/access/schedules", data={"csrf": csrf, "name": "office", "windows": "mon-fri 09:00-17:00\nsat 10:00-12:00", "holidays": ""})
    client.post("/access/groups", data={"csrf": csrf, "name": "staff"})
    client.post("/access/grants", data={"csrf": csrf, "group": "staff", "door_id": "lab", "schedule": "office"})
    client.post("/access/members", data={"csrf": csrf, "group": "staff", "person_ids": "emp-0001"})
    refused = client.post("/access/members", data={"csrf": csrf, "group": "staff", "person_ids": "nobody-here"})
    assert refused.status_code == 400 and "nobody-here" in refused.text, "the refusal is shown on the page"
    page = client.get("/access").text
    assert "Asia/Tokyo" in page and "lab during office" in page and "emp-0001" in page
    client.post("/access/people/emp-0001", data={"csrf": csrf, "valid_from": "2026-01-01", "suspended": "true"})
    view = gk.access.person("emp-0001")
    assert view.suspended and str(view.valid_from) == "2026-01-01"
    answer = client.get("/access", params={"check_person": "emp-0001", "check_door": "lab", "check_at": "2026-12-08T10:00"}).text
    assert 'id="check-answer" class="error"' in answer and "suspended" in answer
