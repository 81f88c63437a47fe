"""Hostile requests against a real console server on loopback (uvicorn in a thread): bodies from
people who are not signed in are never read, bodies over the cap are refused before they are
read, and a live stream ends when its session does. Each attack is performed."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gatekeeper.services.accounts import Accounts
from gatekeeper.web.uploads import MAX_REQUEST_BYTES
from tests.conftest import serve_console

PASSWORD = "correct horse battery staple"


@pytest.fixture
def console(make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    """The console on a free loopback port; its temporary files go to a folder the test watches."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    gk = make_app()
    Accounts(gk.sessions, gk.audit, "test").create_user("alice", PASSWORD, "admin")
    with serve_console(gk) as base:
        yield base, spool


def _largest_spooled(spool: Path) -> int:
    return max((p.stat().st_size for p in spool.rglob("*") if p.is_file()), default=0)


def _sign_in(client: httpx.Client, base: str) -> str:
    import re

    token = re.search(r'name="csrf" value="([^"]+)"', client.get(f"{base}/login").text).group(1)  # type: ignore[union-attr]
    assert client.post(f"{base}/login", data={"username": "alice", "password": PASSWORD, "csrf": token}).status_code in (200, 303)
    return re.search(r'name="csrf" value="([^"]+)"', client.get(f"{base}/people").text).group(1)  # type: ignore[union-attr]


def test_an_anonymous_300_mb_upload_is_never_read(console) -> None:  # type: ignore[no-untyped-def]
    base, spool = console
    sent = 0
    stop_at = 300 * 1024 * 1024

    def body() -> Iterator[bytes]:
        nonlocal sent
        head = b"--x\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        sent += len(head)
        yield head
        chunk = b"\0" * (1024 * 1024)
        while sent < stop_at:
            sent += len(chunk)
            yield chunk

    started = time.monotonic()
    for path, expected in (("/enroll", 303), ("/api/v1/people", 401), ("/api/v1/verify", 401)):
        sent = 0
        try:
            with httpx.Client(timeout=30) as client:
                answer = client.post(f"{base}{path}", content=body(), headers={"content-type": "multipart/form-data; boundary=x"})
            assert answer.status_code == expected, (path, answer.status_code)
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            pass  # the server answered and closed while the client was still sending: also unread
        assert sent < stop_at, f"{path}: the server read the whole anonymous body"
        assert _largest_spooled(spool) == 0, f"{path}: the anonymous body was spooled to disk"
    assert time.monotonic() - started < 20


def test_a_signed_in_body_over_the_cap_is_refused_before_it_is_read(console) -> None:  # type: ignore[no-untyped-def]
    base, spool = console
    with httpx.Client(timeout=30, follow_redirects=True) as client:
        csrf = _sign_in(client, base)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:  # a declared size, then only a few bytes
        raw.sendall((f"POST /enroll HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n"
                     f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {MAX_REQUEST_BYTES + 1}\r\n\r\n").encode() + b"x" * 1024)
        assert raw.recv(64).startswith(b"HTTP/1.1 413")

    def endless() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
        yield b"--x\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        for _ in range(MAX_REQUEST_BYTES // (1024 * 1024) + 40):
            yield b"\0" * (1024 * 1024)

    with httpx.Client(timeout=60) as client:
        csrf = _sign_in(client, base)
        try:
            streamed = client.post(f"{base}/enroll", content=endless(), headers={"content-type": "multipart/form-data; boundary=x", "x-csrf-token": csrf})
            assert streamed.status_code == 413, streamed.text
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            pass
    assert _largest_spooled(spool) <= MAX_REQUEST_BYTES


def test_the_live_stream_ends_when_its_session_does(console) -> None:  # type: ignore[no-untyped-def]
    base, _ = console
    with httpx.Client(timeout=30) as client:
        csrf = _sign_in(client, base)
        cookies = dict(client.cookies)
        with httpx.Client(timeout=30, cookies=cookies) as watcher, watcher.stream("GET", f"{base}/live/events") as stream:
            lines = stream.iter_lines()
            assert next(lines) == ": connected"
            assert client.post(f"{base}/logout", data={"csrf": csrf}).status_code in (200, 303)
            started = time.monotonic()
            rest = []
            for line in lines:
                rest.append(line)
                if line == "event: signed-out" or time.monotonic() - started > 10:
                    break
    assert "event: signed-out" in rest and time.monotonic() - started < 5


def test_a_huge_photo_being_checked_does_not_freeze_the_console(console) -> None:  # type: ignore[no-untyped-def]
    """A 6300 x 6300 JPEG sent to verify: while the server decodes and searches it, other pages
    still answer at once (the work runs on worker threads, a bounded number at a time)."""
    import cv2
    import numpy as np

    base, _ = console
    y, x = np.mgrid[0:6300, 0:6300]
    big = cv2.imencode(".jpg", ((x // 7 + y // 11) % 255).astype(np.uint8))[1].tobytes()
    with httpx.Client(timeout=120) as client:
        csrf = _sign_in(client, base)
        done: list[int] = []
        worker = threading.Thread(target=lambda: done.append(client.post(f"{base}/api/v1/verify", files=[("photo", ("big.jpg", big, "image/jpeg"))], headers={"X-CSRF-Token": csrf}).status_code))
        worker.start()
        time.sleep(0.5)  # the upload is in and being worked on
        slowest, served = 0.0, 0
        with httpx.Client(timeout=30) as other:
            while worker.is_alive() and slowest < 3.0:
                started = time.monotonic()
                assert other.get(f"{base}/login").status_code == 200
                slowest, served = max(slowest, time.monotonic() - started), served + 1
                time.sleep(0.1)
        worker.join(timeout=120)
    assert done and done[0] in (200, 413, 422), done
    # Two cores shared with the face work: a page may wait for the CPU, never for the whole check.
    assert served >= 3 and slowest < 2.0, f"{served} pages served while a photo was checked, the slowest in {slowest:.2f} s"


def test_an_upload_that_would_fill_the_disk_is_refused_before_it_is_read(console, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The temporary folder shares a disk with the door's database: an admin's upload that would
    leave under 1 GiB free there is refused (507) and nothing is spooled."""
    import shutil
    from collections import namedtuple

    base, spool = console
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10 * 2**30, 9 * 2**30 + 2**29, 2**30 + 2**20))
    with httpx.Client(timeout=30) as client:
        csrf = _sign_in(client, base)
        photo = [("photos", ("a.jpg", b"\xff\xd8" + b"\0" * (4 * 2**20), "image/jpeg"))]
        refused = client.post(f"{base}/enroll", data={"person_id": "emp-1", "csrf": csrf}, files=photo)
    assert refused.status_code == 507 and "free disk space" in refused.json()["detail"]
    assert _largest_spooled(spool) == 0
