"""The landing page: today's decisions counted by kind and drawn per hour and door (site
timezone), the doors' health, the latest refusals with their snapshots; decisions coloured by
kind in the audit table, which shows snapshot thumbnails."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from gatekeeper.core.types import Decision, Verdict, decision_kind
from gatekeeper.services.audit import Reading
from gatekeeper.services.overview import today
from tests.test_web import client, gk, sign_in  # noqa: F401  (fixtures)


def test_decision_kinds() -> None:
    kinds = {d.value: decision_kind(d.value) for d in Decision}
    assert kinds["granted"] == "granted" and kinds["denied-spoof"] == "spoof" and kinds["error"] == "error"
    assert {kinds[d] for d in ("denied-unknown", "denied-mismatch", "denied-incomplete", "denied-not-permitted")} == {"denied"}
    assert {kinds[d] for d in ("enrolled", "lockdown", "signed-in", "access-changed")} == {"admin"}


def test_today_counts_by_kind_per_local_hour_and_door(gk) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 12, 5, 14, 30, tzinfo=timezone.utc)  # 15:30 in Berlin
    for minutes, door, decision in [(10, "front", "granted"), (20, "front", "granted"), (25, "front", "denied-unknown"), (70, "back", "denied-spoof"),
                                    (95, "back", "error"), (16 * 60, "front", "granted")]:  # the last one was yesterday, Berlin time
        gk.audit.record(door, Verdict(Decision(decision), "emp-1" if decision == "granted" else None, None, None), at=now - timedelta(minutes=minutes))
    day = today(gk.sessions, "Europe/Berlin", now)
    assert day.day == "2026-12-05" and dict(day.counts) == {"granted": 2, "denied": 1, "spoof": 1, "error": 1}
    front, back = day.doors[1], day.doors[0]
    assert (front.door_id, back.door_id) == ("front", "back")
    assert dict(front.hours[15]) == {"granted": 2, "denied": 1} and dict(back.hours[14]) == {"spoof": 1} and dict(back.hours[13]) == {"error": 1}, "hours are Berlin's"
    assert [r.decision for r in day.latest_denials] == ["denied-unknown", "denied-spoof"]


def test_the_landing_page_shows_today_the_doors_and_the_latest_refusals(client: TestClient, gk) -> None:  # type: ignore[no-untyped-def]
    gk.audit.record("front", Verdict(Decision.GRANTED, "emp-1", 0.97, 0.5))
    gk.audit.record("front", Verdict(Decision.DENIED_UNKNOWN, None, 0.41, 0.3, nearest="emp-1"), Reading(snapshot=str(gk.settings.snapshot_dir / "x.jpg.sealed")))
    sign_in(client, "bob")  # an auditor reads it too
    page = client.get("/").text
    tallies = page.split('id="tallies"', 1)[1].split("</ul>", 1)[0]
    assert '<li class="tally granted"><span class="n">1</span>' in tallies and '<li class="tally denied"><span class="n">1</span>' in tallies
    assert 'id="hours-front"' in page and "<rect class=\"granted\"" in page and "<rect class=\"denied\"" in page
    denial = page.split('id="latest-denials"', 1)[1].split("</ul>", 1)[0]
    assert "denied-unknown" in denial and "nearest emp-1" in denial and "/snapshot" in denial
    audit = client.get("/audit").text
    assert 'class="denied-unknown k-denied"' in audit and 'class="granted k-granted"' in audit and 'class="snap"' in audit
