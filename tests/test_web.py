"""The web console and REST API through FastAPI's test client, on a real SQLite database and real
portrait photos: sign-in, sessions, CSRF, throttling, roles, API tokens, enrollment by upload,
bad uploads, exports. Each attack is performed, not described."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from gatekeeper.demo import astronaut
from gatekeeper.services.accounts import Accounts
from gatekeeper.services.audit import AuditFilter
from gatekeeper.storage.models import ConsoleSession
from gatekeeper.web.app import create_app
from gatekeeper.web.security import SESSION_COOKIE
from gatekeeper.core.types import Verdict

PASSWORD = "correct horse battery staple"


@pytest.fixture
def gk(make_app):  # type: ignore[no-untyped-def]
    app = make_app()
    accounts = Accounts(app.sessions, app.audit, "test")
    accounts.create_user("alice", PASSWORD, "admin")
    accounts.create_user("bob", PASSWORD, "auditor")
    return app


@pytest.fixture
def client(gk) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_app(gk))


def _jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def sign_in(client: TestClient, user: str = "alice", password: str = PASSWORD) -> str:
    """Signs in; returns the session's CSRF token (from a page, as a browser would)."""
    token = _csrf(client.get("/login").text)
    done = client.post("/login", data={"username": user, "password": password, "csrf": token}, follow_redirects=False)
    assert done.status_code == 303, done.text
    return _csrf(client.get("/people").text)


def test_pages_need_a_session_and_the_api_a_credential(client: TestClient) -> None:
    assert client.get("/people", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/v1/people").status_code == 401
    assert client.get("/api/v1/people", headers={"Authorization": "Bearer gk_made-up"}).status_code == 401


def test_enroll_by_upload_lists_the_person_with_a_thumbnail_and_audits_the_console_user(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    csrf = sign_in(client)
    done = client.post("/enroll", data={"person_id": "emp-0001", "name": "Eileen Collins", "csrf": csrf}, files=[("photos", ("collins.jpg", _jpeg(astronaut()), "image/jpeg"))])
    assert done.status_code == 200 and "Enrolled" in done.text, done.text
    people = client.get("/people?q=collins").text
    assert "emp-0001" in people and "/people/emp-0001/thumbnail" in people
    thumb = client.get("/people/emp-0001/thumbnail")
    assert thumb.headers["content-type"] == "image/jpeg" and cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR).shape[0] > 100
    (row,) = gk.audit.query(AuditFilter(decision="enrolled"))
    assert row.actor == "console:alice" and row.person_id == "emp-0001"
    outlook = re.search(r'<p class="outlook">([^<]+)</p>', client.get("/people?q=nobody").text)  # the whole gallery, not the search
    assert outlook and "1 enrolled: strangers ~" in outlook.group(1) and "staff granted ~" in outlook.group(1)


def test_the_quality_gate_verdict_is_shown_per_photo_and_nothing_is_written_on_refusal(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    csrf = sign_in(client)
    blank = np.full((400, 400, 3), 128, np.uint8)  # a photo without a face
    done = client.post("/enroll", data={"person_id": "emp-0002", "csrf": csrf}, files=[("photos", ("wall.jpg", _jpeg(blank), "image/jpeg"))])
    assert done.status_code == 422 and "no usable photo" in done.text and "no face" in done.text.lower(), done.text
    assert client.get("/api/v1/people").json()["total"] == 0
    assert gk.audit.query(AuditFilter(decision="enrolled")) == []


def test_a_state_change_without_the_csrf_token_is_refused(client: TestClient) -> None:
    sign_in(client)
    photo = [("photos", ("collins.jpg", _jpeg(astronaut()), "image/jpeg"))]
    assert client.post("/enroll", data={"person_id": "emp-0003"}, files=photo).status_code == 403
    assert client.post("/enroll", data={"person_id": "emp-0003", "csrf": "forged"}, files=photo).status_code == 403
    assert client.post("/api/v1/people", data={"person_id": "emp-0003"}, files=photo).status_code == 403
    assert client.get("/api/v1/people").json()["total"] == 0


def test_wrong_passwords_are_throttled_even_before_the_right_one(client: TestClient) -> None:
    for _ in range(5):
        token = _csrf(client.get("/login").text)
        assert "wrong username or password" in client.post("/login", data={"username": "alice", "password": "guess", "csrf": token}).text
    token = _csrf(client.get("/login").text)
    throttled = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": token}, follow_redirects=False)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0


def test_sign_in_without_the_login_token_is_refused(client: TestClient) -> None:
    """Login CSRF: another site's form cannot sign the browser in to an attacker's account."""
    assert client.post("/login", data={"username": "alice", "password": PASSWORD}, follow_redirects=False).status_code == 403


def test_a_session_planted_before_sign_in_is_not_the_session_after_it(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    """Session fixation: the attacker sets a cookie value in the victim's browser, then waits."""
    token = _csrf(client.get("/login").text)
    done = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": token}, cookies={SESSION_COOKIE: "attacker-chosen-value"}, follow_redirects=False)
    issued = re.search(rf"{SESSION_COOKIE}=([^;]+)", done.headers["set-cookie"]).group(1)  # type: ignore[union-attr]
    assert done.status_code == 303 and issued != "attacker-chosen-value"  # a new session, never the planted one
    attacker = TestClient(create_app(gk))
    attacker.cookies.set(SESSION_COOKIE, "attacker-chosen-value")
    assert attacker.get("/people", follow_redirects=False).status_code == 303  # still signed out


def test_an_auditor_reads_and_exports_but_cannot_change_anything(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    csrf = sign_in(client, "bob")
    assert 'id="nav-enroll"' not in client.get("/people").text
    assert client.get("/enroll").status_code == 403
    photo = [("photos", ("collins.jpg", _jpeg(astronaut()), "image/jpeg"))]
    assert client.post("/enroll", data={"person_id": "emp-0004", "csrf": csrf}, files=photo).status_code == 403
    assert client.post("/api/v1/people", data={"person_id": "emp-0004"}, files=photo, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.delete("/api/v1/people/emp-0004", headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.get("/audit/export?format=csv").status_code == 200
    assert client.get("/api/v1/people").json()["total"] == 0


def test_api_tokens_carry_their_role_and_are_stored_hashed(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    accounts = Accounts(gk.sessions, gk.audit, "test")
    writer, reader = accounts.create_token("hr-sync", "admin"), accounts.create_token("siem", "auditor")
    photo = [("photos", ("collins.jpg", _jpeg(astronaut()), "image/jpeg"))]
    made = client.post("/api/v1/people", data={"person_id": "emp-0005", "name": "Eileen Collins"}, files=photo, headers={"Authorization": f"Bearer {writer}"})
    assert made.status_code == 201, made.text
    assert client.delete("/api/v1/people/emp-0005", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    assert client.get("/api/v1/people", headers={"Authorization": f"Bearer {reader}"}).json()["total"] == 1
    with gk.sessions() as s:
        stored = s.execute(__import__("sqlalchemy").text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert writer not in stored and reader not in stored and all(len(h) == 64 for h in stored)
    gone = client.delete("/api/v1/people/emp-0005", headers={"Authorization": f"Bearer {writer}"})
    assert gone.status_code == 200 and client.get("/api/v1/people", headers={"Authorization": f"Bearer {reader}"}).json()["total"] == 0


def test_an_expired_session_is_signed_out(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    sign_in(client)
    with gk.sessions.begin() as s:
        for row in s.query(ConsoleSession):
            row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert client.get("/people", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/v1/people").status_code == 401


@pytest.mark.parametrize(
    ("payload", "content_type", "status", "reason"),
    [
        (b"\x00" * (16 * 1024 * 1024), "image/jpeg", 413, "larger than 15 MB"),  # over the upload cap: the whole request is refused
        (b"#!/bin/sh\nrm -rf /\n", "text/x-shellscript", 422, "text/x-shellscript is not an image"),  # the photo is refused, named
        (b"GIF89a but not really", "image/gif", 422, "not a usable photo"),  # claims to be an image, is not one
    ],
)
def test_bad_uploads_get_a_clear_4xx_and_write_nothing(client: TestClient, gk, payload: bytes, content_type: str, status: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    csrf = sign_in(client)
    done = client.post("/api/v1/people", data={"person_id": "emp-0006"}, files=[("photos", ("../../../tmp/evil.jpg", payload, content_type))], headers={"X-CSRF-Token": csrf})
    assert done.status_code == status and reason in done.text, done.text
    assert client.get("/api/v1/people").json()["total"] == 0
    assert "evil" not in done.text  # the client's file name is never used, not even in messages


def test_the_audit_page_filters_paginates_and_exports_like_the_cli(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    for i in range(60):
        gk.audit.record("front", Verdict("denied-unknown" if i % 2 else "granted", None if i % 2 else "emp-0007", 0.5, None))
    sign_in(client, "bob")
    page = client.get("/audit?decision=granted").text
    assert "30 rows" in page and "page 1 of 1" not in page
    assert "hash chain verified" in client.get("/audit/verify").text
    assert client.get("/audit?page=2").status_code == 200
    csv_rows = client.get("/audit/export?format=csv&decision=granted").text.strip().splitlines()
    assert len(csv_rows) == 31 and csv_rows[0].startswith("event_id,")
    listed = client.get("/api/v1/audit?person=emp-0007&limit=10").json()
    assert listed["total"] == 30 and len(listed["rows"]) == 10 and listed["rows"][0]["event_id"] > listed["rows"][-1]["event_id"]
    assert client.get("/audit/export?format=xml").status_code == 422
    assert client.get("/api/v1/audit?decision=<script>").status_code == 422


def test_the_doors_page_shows_a_running_doors_heartbeat(client: TestClient, gk, settings) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.door.actuate import LogOnlyActuator
    from tests.conftest import door_frame
    from tests.test_daemon import FlakySource, _run_in_thread, _wait_for

    frames = [door_frame(astronaut(), np.random.default_rng(i)) for i in range(10)]
    daemon = gk.daemon(LogOnlyActuator())
    thread, stop = _run_in_thread(daemon, FlakySource(frames, drop_after=10**9))
    try:
        sign_in(client, "bob")
        assert _wait_for(lambda: client.get("/api/v1/doors").json()["doors"], timeout=60)
        (door,) = client.get("/api/v1/doors").json()["doors"]
        assert door["door_id"] == settings.door_id and door["model_version"] == gk.pipeline.encoder.version and door["camera"] in ("ok", "starting")
        assert settings.door_id in client.get("/doors").text
        page = client.get("/doors").text
        assert "id=\"liveness-outlook\"" in page and "printed photo" in page, "the doors page says what the liveness mode lets in"
    finally:
        stop.set()
        thread.join(timeout=10)


def test_verify_a_photo_through_the_api(client: TestClient) -> None:
    """Enrolled through the API, then recognised in another crop of the same portrait; a portrait
    of someone else (Grace Hopper, public domain) matches nobody."""
    import matplotlib.cbook as cbook

    csrf = sign_in(client)
    assert client.post("/api/v1/people", data={"person_id": "emp-0008", "name": "Eileen Collins"}, files=[("photos", ("a.jpg", _jpeg(astronaut()), "image/jpeg"))], headers={"X-CSRF-Token": csrf}).status_code == 201
    wider = np.ascontiguousarray(__import__("skimage.data", fromlist=["astronaut"]).astronaut()[0:360, 60:420])
    (face,) = client.post("/api/v1/verify", files=[("photo", ("probe.jpg", _jpeg(wider), "image/jpeg"))], headers={"X-CSRF-Token": csrf}).json()["faces"]
    assert face["verdict"] == "match" and face["person_id"] == "emp-0008", face
    hopper = cv2.cvtColor(cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.COLOR_BGR2RGB)
    (other,) = client.post("/api/v1/verify", files=[("photo", ("hopper.jpg", _jpeg(hopper), "image/jpeg"))], headers={"X-CSRF-Token": csrf}).json()["faces"]
    assert other["verdict"] == "no match" and other["person_id"] is None
    assert other["candidates"] == [], "a face that matches nobody must not come back with names and scores"


def test_an_auditor_cannot_run_a_biometric_search(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    """Reading the log is not identifying faces: verify is for admins (session or token)."""
    accounts = Accounts(gk.sessions, gk.audit, "test")
    reader = accounts.create_token("siem-2", "auditor")
    photo = [("photo", ("probe.jpg", _jpeg(astronaut()), "image/jpeg"))]
    assert client.post("/api/v1/verify", files=photo, headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    csrf = sign_in(client, "bob")
    assert client.post("/api/v1/verify", files=photo, headers={"X-CSRF-Token": csrf}).status_code == 403


def test_the_console_loads_nothing_from_outside_the_box(client: TestClient) -> None:
    """Every page's scripts, styles and images come from this server (no CDN), and the API's
    OpenAPI schema is served."""
    sign_in(client)
    for url in ("/login", "/people", "/enroll", "/audit", "/live", "/doors"):
        html = client.get(url).text
        assert not re.search(r'(src|href)="(https?:)?//', html), url
    assert client.get("/api/docs").status_code == 404
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/people" in schema["paths"] and "/api/v1/verify" in schema["paths"]


def test_person_detail_adds_photos_and_the_api_renames(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    csrf = sign_in(client)
    photo = [("photos", ("a.jpg", _jpeg(astronaut()), "image/jpeg"))]
    assert client.post("/api/v1/people", data={"person_id": "emp-0009", "name": "E. Collins"}, files=photo, headers={"X-CSRF-Token": csrf}).status_code == 201
    mirrored = np.ascontiguousarray(astronaut()[:, ::-1])
    added = client.post("/people/emp-0009/photos", data={"csrf": csrf}, files=[("photos", ("b.jpg", _jpeg(mirrored), "image/jpeg"))])
    assert added.status_code == 200 and "Enrolled" in added.text
    assert client.get("/api/v1/people/emp-0009").json()["photos"] == 2
    assert [r.decision for r in gk.audit.query(AuditFilter(person_id="emp-0009"))] == ["enrolled", "extended"]
    assert client.patch("/api/v1/people/emp-0009", data={"name": "Eileen Collins"}, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/v1/people/emp-0009").json()["name"] == "Eileen Collins"
    assert client.patch("/api/v1/people/emp-0009", data={"name": "x"}).status_code == 403  # no CSRF token


def test_audit_time_filters(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    t0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    for day in range(3):
        gk.audit.record("front", Verdict("granted", "emp-0010", None, None), at=t0 + timedelta(days=day))
    sign_in(client, "bob")
    assert client.get("/api/v1/audit?since=2026-12-01&door=front").json()["total"] == 2
    # One meaning everywhere (core.when): "until" a date includes that day, as in the CLI and the access policy.
    assert client.get("/api/v1/audit?since=2026-12-01&until=2026-12-01&door=front").json()["total"] == 1
    assert client.get("/api/v1/audit?since=2026-12-01&until=2026-12-02&door=front").json()["total"] == 2
    assert client.get("/api/v1/audit?until=2026-12-01T00:00&door=front").json()["total"] == 1
    assert "1 rows" in client.get("/audit?since=2026-12-02&door=front").text
    assert client.get("/api/v1/audit?since=yesterday").status_code == 422


def test_one_guesser_cannot_lock_everyone_out_behind_a_proxy() -> None:
    """All clients share the proxy's address: five wrong passwords for one user throttle that
    user, not the next user from the same address; twenty from one address throttle it."""
    from gatekeeper.web.security import LoginThrottle

    throttle = LoginThrottle()
    for _ in range(5):
        throttle.failed(["user:mallory", "addr:127.0.0.1"], now=0.0)
    assert throttle.retry_after(["user:mallory", "addr:127.0.0.1"], now=1.0) > 0
    assert throttle.retry_after(["user:alice", "addr:127.0.0.1"], now=1.0) == 0
    for i in range(15):
        throttle.failed([f"user:u{i}", "addr:127.0.0.1"], now=2.0)
    assert throttle.retry_after(["user:alice", "addr:127.0.0.1"], now=3.0) > 0
    assert throttle.retry_after(["user:alice", "addr:10.0.0.9"], now=3.0) == 0
    assert throttle.retry_after(["user:alice", "addr:127.0.0.1"], now=400.0) == 0  # the window passed


def test_badges_are_given_in_the_console_unique_and_only_by_admins(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.services.enrollment import embed_image

    for pid in ("emp-0010", "emp-0011"):
        assert gk.enrollment.enroll(pid, pid, [embed_image(gk.pipeline, astronaut(), "portrait")], force=True).enrolled
    csrf = sign_in(client)
    done = client.post("/people/emp-0010/badge", data={"number": "4711", "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert '<dd id="badge">4711</dd>' in client.get("/people/emp-0010").text
    taken = client.post("/people/emp-0011/badge", data={"number": "4711", "csrf": csrf})
    assert taken.status_code == 422 and "already belongs to" in taken.text
    assert client.post("/people/emp-0010/badge", data={"number": "4711", "csrf": "forged"}).status_code == 403
    (change,) = [r for r in gk.audit.query(AuditFilter(decision="access-changed")) if r.detail == "badge 4711 assigned"]
    assert change.actor == "console:alice" and change.person_id == "emp-0010"
    auditor = TestClient(client.app)
    csrf_bob = sign_in(auditor, "bob")
    assert auditor.post("/people/emp-0011/badge", data={"number": "4712", "csrf": csrf_bob}).status_code == 403
    assert gk.access.person("emp-0011").badge is None


def test_accounts_can_be_revoked_and_their_sessions_and_tokens_stop_working(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    """An auditor leaves: their open session and an integration's token must stop working now."""
    accounts = Accounts(gk.sessions, gk.audit, "test")
    token = accounts.create_token("old-siem", "auditor")
    bob = TestClient(client.app)
    sign_in(bob, "bob")
    assert bob.get("/api/v1/people").status_code == 200 and client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    csrf = sign_in(client)
    assert client.post("/accounts/users/bob/signout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert bob.get("/api/v1/people").status_code == 401  # the open session is gone
    assert client.post("/accounts/tokens/old-siem/revoke", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post("/accounts/users/bob/remove", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert ("bob", "auditor") not in accounts.users()
    assert client.post("/accounts/users/alice/remove", data={"csrf": csrf}).status_code == 400  # never the last admin
    details = [r.detail for r in gk.audit.query(AuditFilter(decision="account-changed"))]
    assert "console user bob: 1 sessions ended" in details and "API token old-siem revoked" in details and "console user bob removed" in details
    assert gk.audit.verify() == []


def test_tokens_expire_and_a_password_change_signs_out_everywhere(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.storage.models import ApiToken

    accounts = Accounts(gk.sessions, gk.audit, "test")
    token = accounts.create_token("hr", "admin", days=30)
    with gk.sessions.begin() as s:
        s.execute(__import__("sqlalchemy").update(ApiToken).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    elsewhere = TestClient(client.app)
    sign_in(elsewhere)
    csrf = sign_in(client)
    assert client.post("/accounts/password", data={"csrf": csrf, "current": "wrong password!!", "new": "another long passphrase"}).status_code == 403
    done = client.post("/accounts/password", data={"csrf": csrf, "current": PASSWORD, "new": "another long passphrase"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert elsewhere.get("/api/v1/people").status_code == 401
    assert accounts.authenticate("alice", "another long passphrase") is not None and accounts.authenticate("alice", PASSWORD) is None


def test_text_that_could_steer_a_terminal_is_refused_as_an_anonymisation_reason(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.services.enrollment import embed_image

    assert gk.enrollment.enroll("emp-0020", "E", [embed_image(gk.pipeline, astronaut(), "portrait")]).enrolled
    csrf = sign_in(client)
    before = len(gk.audit.query(AuditFilter()))
    for reason in ("ticket 1\x1b[2J\x1b[31mforged", "bell\x07", "\u202etxt.exe", "   "):
        refused = client.post("/people/emp-0020/anonymise", data={"csrf": csrf, "reason": reason})
        assert refused.status_code == 422, (reason, refused.status_code)
    assert len(gk.audit.query(AuditFilter())) == before and gk.audit.query(AuditFilter(person_id="emp-0020"))
    done = client.post("/people/emp-0020/anonymise", data={"csrf": csrf, "reason": "ticket 114"}, follow_redirects=False)
    assert done.status_code == 303 and "anonymised" in done.headers["location"]


def test_the_console_removes_through_the_clis_service_and_says_what_it_found(client: TestClient, gk, settings) -> None:  # type: ignore[no-untyped-def]
    """Remove and anonymise in the console delete the person's face snapshots, as the CLI does,
    and name a second id with the same face."""
    from gatekeeper.door.actuate import LogOnlyActuator
    from gatekeeper.services.enrollment import embed_image

    photo = embed_image(gk.pipeline, astronaut(), "portrait")
    assert gk.enrollment.enroll("emp-0030", "E", [photo]).enrolled
    assert gk.enrollment.enroll("alias-0031", "Also E", [photo], force=True).enrolled
    snapping = type(gk)(settings.model_copy(update={"snapshots": True}), encoder=gk.pipeline.encoder)
    daemon = snapping.daemon(LogOnlyActuator())
    frame = np.full((480, 640, 3), 110, np.uint8)
    frame[40:440, 120:520] = cv2.resize(astronaut()[0:300, 100:400], (400, 400))
    for t in range(3):
        daemon.process_frame(frame, 0.1 * t)
    shots = [r.snapshot for r in gk.audit.query(AuditFilter()) if r.snapshot]
    assert shots and all(Path(s).exists() for s in shots)
    csrf = sign_in(client)
    page = client.post("/people/emp-0030/remove", data={"csrf": csrf})
    assert page.status_code == 200 and "alias-0031" in page.text and "second id" in page.text
    granted_to_30 = [r.snapshot for r in gk.audit.query(AuditFilter()) if r.snapshot and r.person_id == "emp-0030"]
    assert all(not Path(s).exists() for s in granted_to_30)
    anon = client.post("/people/alias-0031/anonymise", data={"csrf": csrf, "reason": "ticket 9"}, follow_redirects=False)
    assert anon.status_code == 303
    assert all(not Path(s).exists() for s in shots), "the console left face snapshots on disk"


def test_pages_refused_to_a_browser_are_pages_and_patch_takes_json(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.services.enrollment import embed_image

    assert gk.enrollment.enroll("emp-0040", "E", [embed_image(gk.pipeline, astronaut(), "portrait")]).enrolled
    csrf_bob = sign_in(TestClient(client.app), "bob")
    auditor = TestClient(client.app)
    csrf_bob = sign_in(auditor, "bob")
    refused = auditor.get("/enroll", headers={"Accept": "text/html"})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html") and "Not allowed" in refused.text
    assert auditor.get("/api/v1/people/nobody").json()["detail"]  # the API still answers JSON
    csrf = sign_in(client)
    renamed = client.patch("/api/v1/people/emp-0040", json={"name": "Eileen M. Collins"}, headers={"X-CSRF-Token": csrf})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Eileen M. Collins", renamed.text
    assert client.patch("/api/v1/people/emp-0040", json={"nom": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 422
    del csrf_bob


def test_a_checkpoint_of_an_empty_log_is_a_message_not_a_traceback(settings) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {**os.environ, "GATEKEEPER_DATA_DIR": str(settings.data_dir)}
    subprocess.run([sys.executable, "-m", "gatekeeper", "init"], env=env, check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-m", "gatekeeper", "audit", "checkpoint", "--out", str(settings.data_dir / "cp.json")], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "nothing to checkpoint" in out.stderr and "Traceback" not in out.stderr + out.stdout


def test_every_answer_carries_the_security_headers_and_an_enrolled_id_is_not_silently_replaced(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/openapi.json").status_code == 401  # the map of the API is for signed-in callers
    sign_in(client)
    for path in ("/login", "/static/console.css", "/api/v1/openapi.json"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    csrf = sign_in(client)
    photo = [("photos", ("collins.jpg", _jpeg(astronaut()), "image/jpeg"))]
    assert client.post("/api/v1/people", data={"person_id": "emp-0050"}, files=photo, headers={"X-CSRF-Token": csrf}).status_code == 201
    again = client.post("/api/v1/people", data={"person_id": "emp-0050"}, files=photo, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409 and "enrolled already" in again.json()["detail"]
    assert len(gk.audit.query(AuditFilter(decision="enrolled"))) == 1
    replaced = client.post("/api/v1/people", data={"person_id": "emp-0050", "replace": "true"}, files=photo, headers={"X-CSRF-Token": csrf})
    assert replaced.status_code == 201


def test_an_mqtt_password_never_crosses_the_network_in_the_clear() -> None:
    from pydantic import ValidationError

    from gatekeeper.config import Settings

    with pytest.raises(ValidationError, match="in the clear"):
        Settings(mqtt_host="broker.example", mqtt_password="s3cret")
    assert Settings(mqtt_host="broker.example", mqtt_password="s3cret", mqtt_tls=True).mqtt_tls
    assert Settings(mqtt_host="127.0.0.1", mqtt_password="s3cret").mqtt_host == "127.0.0.1"  # a broker on this box


def test_sign_ins_and_failed_sign_ins_are_in_the_audit_chain(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"username": "alice\x1b[2J", "password": "wrong wrong wrong", "csrf": token})
    sign_in(client)
    failed, = gk.audit.query(AuditFilter(decision="sign-in-failed"))
    assert failed.actor == "console:alice\\x1b[2J" and "\x1b" not in (failed.actor or "")
    signed, = gk.audit.query(AuditFilter(decision="signed-in"))
    assert signed.actor == "console:alice" and signed.detail.startswith("from ")
    assert gk.audit.verify() == []


def test_sign_in_backs_off_instead_of_locking_out_and_remembers_a_bounded_number_of_names() -> None:
    from gatekeeper.web.security import LoginThrottle

    throttle = LoginThrottle(max_keys=1000)
    waits = []
    for i in range(12):  # a guesser keeps going against alice
        throttle.failed(["user:alice"], now=float(i * 100))
        waits.append(throttle.retry_after(["user:alice"], now=float(i * 100)))
    assert waits[:4] == [0, 0, 0, 0] and waits[4:7] == [3, 5, 9] and max(waits) == 61, waits  # doubling, capped at a minute
    assert throttle.retry_after(["user:alice"], now=1100.0 + 61) == 0, "after the delay the real alice may try: no lockout"
    for i in range(30_000):  # made-up names from everywhere
        throttle.failed([f"user:made-up-{i}", f"addr:10.{i // 65536}.{i // 256 % 256}.{i % 256}"], now=2000.0)
    assert len(throttle) <= 1000
