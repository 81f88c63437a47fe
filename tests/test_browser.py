"""The console in a real browser: Playwright driving Debian's chromium against `gatekeeper serve`'s
app on a loopback port. Sign in, enroll the astronaut portrait through the upload form, see her
listed with her face, see a replayed door's grant appear live, export the audit CSV; an auditor sees no enroll form and the API refuses
her. A screenshot of each page goes to test-artifacts/ (looked at when the suite changes)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from gatekeeper.demo import astronaut
from gatekeeper.services.accounts import Accounts
from gatekeeper.core.types import Decision, Verdict
from gatekeeper.services.audit import AuditFilter
from tests.conftest import serve_console

CHROMIUM = os.environ.get("GATEKEEPER_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PASSWORD = "correct horse battery staple"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
    pytest.skip(f"no chromium at {CHROMIUM} (.ci/run installs Debian's chromium; or set GATEKEEPER_CHROMIUM)", allow_module_level=True)


@pytest.fixture
def console(make_app) -> Iterator[tuple[str, object]]:  # type: ignore[no-untyped-def]
    """The console on a free loopback port, with an admin (alice) and an auditor (bob)."""
    gk = make_app()
    accounts = Accounts(gk.sessions, gk.audit, "test")
    accounts.create_user("alice", PASSWORD, "admin")
    accounts.create_user("bob", PASSWORD, "auditor")
    with serve_console(gk) as base:
        yield base, gk


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(page, base: str, user: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/people")
    assert page.url.endswith("/login")  # signed out: sent to sign in
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_an_admin_enrolls_from_the_browser_sees_the_door_grant_live_and_exports_the_log(console, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from gatekeeper.door.actuate import LogOnlyActuator
    from tests.conftest import door_frame

    console, gk = console
    photo = tmp_path / "eileen-collins.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{console}/login")
    _shot(page, "01-login")
    _sign_in(page, console, "alice")
    page.click("#nav-enroll")
    page.fill("input[name=person_id]", "emp-0042")
    page.fill("input[name=name]", "Eileen Collins")
    page.set_input_files("input[name=photos]", str(photo))
    _shot(page, "02-enroll-form")
    page.click("#enroll-form button[type=submit]")
    assert "Enrolled" in page.inner_text("#enroll-result")
    assert "usable" in page.inner_text("#enroll-result")
    _shot(page, "03-enrolled")
    page.goto(f"{console}/people")
    row = page.locator("#people tbody tr", has_text="emp-0042")
    assert "Eileen Collins" in row.inner_text()
    assert row.locator("img.thumb").evaluate("img => img.complete && img.naturalWidth > 0")  # the stored face is shown
    _shot(page, "04-people")
    page.goto(f"{console}/live")
    page.wait_for_function("document.getElementById('live-state').textContent === 'live'")
    gk.settings.snapshots = True  # the door keeps each decision's face: the live view shows it
    daemon, rng = gk.daemon(LogOnlyActuator()), np.random.default_rng(0)  # a replayed door: Collins walks up
    for i in range(4):
        daemon.process_frame(door_frame(astronaut(), rng), i / 15)
    page.wait_for_selector("#live tbody tr.granted", timeout=15000)
    assert "emp-0042" in page.inner_text("#live tbody tr.granted")
    page.wait_for_function("() => { const i = document.querySelector('#live tbody tr.granted img'); return i && i.complete && i.naturalWidth > 0; }", timeout=15000)
    _shot(page, "05-live")
    page.goto(f"{console}/audit")
    page.click("#verify-chain")
    assert "hash chain verified" in page.inner_text("#chain")
    assert "enrolled" in page.inner_text("#audit")
    _shot(page, "06-audit")
    with page.expect_download() as download:
        page.click("#export-csv")
    text = Path(download.value.path()).read_text()
    assert text.startswith("event_id,") and "emp-0042" in text and "enrolled" in text
    context.close()


def test_an_auditor_sees_no_enroll_form_and_the_api_refuses_her(console, browser) -> None:  # type: ignore[no-untyped-def]
    console, _ = console
    page = browser.new_page()
    _sign_in(page, console, "bob")
    assert page.locator("#nav-enroll").count() == 0
    _shot(page, "07-auditor-people")
    response = page.goto(f"{console}/enroll")
    assert response.status == 403
    csrf = page.evaluate("() => fetch('/people').then(r => r.text()).then(t => t.match(/name=\"csrf\" value=\"([^\"]+)\"/)[1])")
    status = page.evaluate("csrf => fetch('/api/v1/people/emp-0042', {method: 'DELETE', headers: {'X-CSRF-Token': csrf}}).then(r => r.status)", csrf)
    assert status == 403


def test_an_admin_locks_a_door_down_from_the_browser_and_a_running_door_refuses_until_released(console, browser) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from gatekeeper.door.actuate import LogOnlyActuator
    from gatekeeper.services.enrollment import embed_image
    from tests.conftest import door_frame
    from tests.test_daemon import FlakySource, _run_in_thread, _wait_for

    console, gk = console
    gk.settings.cooldown_s = 0.0
    door = gk.settings.door_id
    assert gk.enrollment.enroll("emp-0042", "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "astronaut")]).enrolled
    gk.access.set_door(door)
    frames = [door_frame(astronaut(), np.random.default_rng(i)) for i in range(12)]
    empty = [np.full((480, 640, 3), 110, np.uint8)] * 30  # Collins walks up again and again, an empty doorway between visits
    actuator = LogOnlyActuator()
    daemon = gk.daemon(actuator)
    thread, stop = _run_in_thread(daemon, FlakySource(frames + empty, drop_after=10**9))

    def rows_after(event: int, decision: str) -> bool:
        return any(r.event_id > event for r in gk.audit.query(AuditFilter(decision=decision)))

    try:
        assert _wait_for(lambda: actuator.unlocks, timeout=60), "the running door lets her in"
        page = browser.new_page()
        _sign_in(page, console, "alice")
        page.click("#nav-access")
        page.click(f"#lockdown-{door}")
        assert "Only members of groups that pass lockdown" in page.inner_text("main")
        _shot(page, "07-lockdown-confirm")
        page.click("#confirm-lockdown")
        assert "locked down" in page.inner_text("[role=status]") and "lockdown" in page.locator("#access-doors tbody tr", has_text=door).inner_text()
        _shot(page, "08-access-locked")
        locked_at = max(r.event_id for r in gk.audit.query(AuditFilter(decision="lockdown")))
        assert _wait_for(lambda: rows_after(locked_at, "denied-not-permitted"), timeout=60), "the running door refuses her during the lockdown"
        unlocks, seen = len(actuator.unlocks), daemon.stats.frames
        assert _wait_for(lambda: daemon.stats.frames >= seen + len(frames) + len(empty), timeout=60) and len(actuator.unlocks) == unlocks
        page.click(f"#release-{door}")
        page.click("#confirm-release")
        assert "released" in page.inner_text("[role=status]")
        released_at = max(r.event_id for r in gk.audit.query(AuditFilter(decision="released")))
        assert _wait_for(lambda: rows_after(released_at, "granted"), timeout=60), "and lets her in after the release"
        assert [r.actor for r in gk.audit.query(AuditFilter(door_id="admin")) if r.decision in ("lockdown", "released")] == ["console:alice", "console:alice"]
    finally:
        stop.set()
        thread.join(timeout=10)


def test_the_overview_reads_on_a_phone(console, browser) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from gatekeeper.door.actuate import LogOnlyActuator
    from gatekeeper.services.enrollment import embed_image
    from tests.conftest import door_frame

    console, gk = console
    gk.settings.snapshots = "all"
    assert gk.enrollment.enroll("emp-0042", "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "astronaut")]).enrolled
    daemon, rng = gk.daemon(LogOnlyActuator()), np.random.default_rng(0)
    for i in range(4):
        daemon.process_frame(door_frame(astronaut(), rng), i / 15)
    gk.audit.record("back-door", Verdict(Decision.DENIED_UNKNOWN, None, 0.4, 0.3))
    page = browser.new_page(viewport={"width": 390, "height": 844})
    _sign_in(page, console, "bob")
    assert "1" in page.inner_text("#tallies .tally.granted") and "1" in page.inner_text("#tallies .tally.denied")
    assert page.locator(f"#hours-{gk.settings.door_id} rect.granted").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "no sideways scrolling on a phone"
    _shot(page, "09-overview-phone")


def test_an_admin_assigns_a_refused_face_and_the_door_grants_her_on_the_replay(console, browser, lfw: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import lfw_people
    from tests.test_review import visit

    console, gk = console
    (_, guevara), = lfw_people(lfw, 1, 4, skip=12)
    assert gk.enrollment.enroll("emp-guevara", "Ana Guevara", [gk.enrollment.embed_photo(guevara[0])]).enrolled
    assert visit(gk, guevara[2]) == ["denied-unknown"], "her visit is refused before the review"
    page = browser.new_page()
    _sign_in(page, console, "alice")
    page.click("#nav-review")
    row = page.locator("#captures tbody tr").first
    assert "emp-guevara" in row.inner_text() and row.locator("img.face-sm").evaluate("img => img.complete && img.naturalWidth > 0")
    _shot(page, "10-review")
    row.locator("button.assign").click()
    assert "added to emp-guevara" in page.inner_text("[role=status]")
    assert "granted" in visit(gk, guevara[2]), "the same visit is granted after the review"


def test_the_gallery_map_of_ten_thousand_people_renders_in_under_three_seconds(console, browser) -> None:  # type: ignore[no-untyped-def]
    import time

    from tests.test_gallery_map import add_synthetic_people

    console, gk = console
    add_synthetic_people(gk, 10_000)
    page = browser.new_page()
    _sign_in(page, console, "alice")
    page.goto(f"{console}/map")
    page.wait_for_selector("#gallery-map", timeout=60_000)  # drawn on the server once (its time is on the page)
    started = time.perf_counter()
    page.goto(f"{console}/map")
    page.wait_for_selector("#gallery-map[data-drawn='10000']", state="attached", timeout=10_000)
    seconds = time.perf_counter() - started
    assert seconds < 3.0, f"the map of 10,000 people took {seconds:.2f} s to render"
    page.mouse.move(*_canvas_point(page))
    assert "syn-" in page.inner_text("#map-hover"), "hovering names the person under the pointer"
    print(f"gallery map, 10,000 people: page to drawn canvas {seconds:.2f} s; {page.inner_text('h1 small')}")
    _shot(page, "11-gallery-map")


def _canvas_point(page) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """A point on the canvas where a person is drawn (the centre of the first one)."""
    return page.evaluate("""async () => {
        const c = document.getElementById('gallery-map'), box = c.getBoundingClientRect();
        const p = (await (await fetch('/map/points')).json()).people[0];
        return [box.left + (12 + p[2] * (c.width - 24)) * box.width / c.width, box.top + (12 + (1 - p[3]) * (c.height - 24)) * box.height / c.height];
    }""")
