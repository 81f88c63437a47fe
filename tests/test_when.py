"""One reading of a typed time everywhere: the CLI's audit filters, the console's and the REST
API's, and the access policy's validity bounds."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from gatekeeper.core.when import parse_when
from gatekeeper.errors import InputError
from gatekeeper.services.access import parse_instant
from gatekeeper.core.types import Verdict


def test_a_date_as_until_includes_that_day_in_the_site_timezone() -> None:
    assert parse_when("2026-12-11", "Europe/Berlin", "until") == datetime(2026, 12, 11, 23, 0, tzinfo=timezone.utc)
    assert parse_when("2026-12-11", "Europe/Berlin", "since") == datetime(2026, 12, 10, 23, 0, tzinfo=timezone.utc)
    assert parse_instant("2026-12-11", "Europe/Berlin", end_of_day=True) == parse_when("2026-12-11", "Europe/Berlin", "until")


def test_ages_and_times() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
    assert parse_when("7d", "UTC", "since", now) == datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
    assert parse_when("2026-12-04T09:30", "Europe/Berlin", "since") == datetime(2026, 12, 4, 8, 30, tzinfo=timezone.utc)
    assert parse_when("2026-12-04T09:30+00:00", "Europe/Berlin", "since") == datetime(2026, 12, 4, 9, 30, tzinfo=timezone.utc)
    for bad in ("yesterday", "2026-13-01", "99999999999d"):
        with pytest.raises(InputError):
            parse_when(bad, "UTC", "since")


def test_the_cli_audit_reads_until_as_the_console_does(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.app import App
    from gatekeeper.cli import app as cli
    from gatekeeper.config import Settings

    monkeypatch.setenv("GATEKEEPER_DATA_DIR", str(tmp_path))
    gk = App(Settings(data_dir=tmp_path))
    for day in (1, 2, 3):
        gk.audit.record("front", Verdict("granted", "emp-1", None, None), at=datetime(2026, 12, day, 12, 0, tzinfo=timezone.utc))
    out = CliRunner().invoke(cli, ["audit", "--since", "2026-12-01", "--until", "2026-12-02", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert out.output.count('"decision": "granted"') == 2, "the 2nd is included, the 3rd is not"
    bad = CliRunner().invoke(cli, ["audit", "--until", "yesterday"])
    assert bad.exit_code == 2 and "not an age" in bad.output
