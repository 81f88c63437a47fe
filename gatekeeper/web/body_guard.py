"""The console's request bodies: capped, and never read for someone who is not signed in.

Starlette parses a multipart body (spooling every file part to disk past 1 MB) when a route
first asks for its form, which is before any dependency has checked who is asking. This ASGI
layer runs first: a request whose Content-Length is over the cap is answered 413 before a byte of
its body is read; a state-changing request from someone with neither a session nor an API token
is answered 401 (API) or sent to /login, unread; and a body that streams past the cap without a
Content-Length is cut off with 413. Only sign-in takes an anonymous body, and a small one.
"""

from __future__ import annotations

import json
import shutil
import tempfile

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatekeeper.services.accounts import Accounts
from gatekeeper.web.security import SAFE_METHODS, principal_of

ANONYMOUS_PATHS = {"/login": 16 * 1024}  # path -> the largest body it takes from anyone
# Uploads are spooled to the temporary folder; where that shares a disk with the door's database,
# a full disk would make the door refuse everyone (it cannot write its audit row). An upload
# that would leave less than this free there is refused (507) before a byte of it is read.
MIN_FREE_BYTES = 1024 * 1024 * 1024


class BodyTooLarge(Exception):
    pass


class BodyGuard:
    def __init__(self, app: ASGIApp, accounts: Accounts, max_bytes: int) -> None:
        self.app, self.accounts, self.max_bytes = app, accounts, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        limit = ANONYMOUS_PATHS.get(scope["path"], self.max_bytes)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, {"detail": f"request body larger than {limit // (1024 * 1024) or limit} {'MB' if limit >= 1024 * 1024 else 'bytes'}"})
            return
        if scope["path"] not in ANONYMOUS_PATHS and await run_in_threadpool(principal_of, request, self.accounts) is None:
            if scope["path"].startswith("/api/"):
                await _answer(send, 401, {"detail": "sign in, or send Authorization: Bearer <API token>"})
            else:
                await _answer(send, 303, None, [(b"location", b"/login")])
            return
        if not _room_for(int(declared) if declared.isdigit() else limit):
            await _answer(send, 507, {"detail": "too little free disk space for this upload: the door's database needs it; try later or free space"})
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app on a body that may not pass ``limit`` bytes. Past it, reading fails, and
        whatever the app then answers (FastAPI turns any parse failure into a 400) is replaced
        by a 413 that says why."""
        seen, over, replaced = 0, False, False

        async def counting() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise BodyTooLarge()
            return message

        async def answering(message: Message) -> None:
            nonlocal replaced
            if over:
                if not replaced:
                    replaced = True
                    await _answer(send, 413, {"detail": f"request body larger than {limit} bytes"})
                return
            await send(message)

        try:
            await self.app(scope, counting, answering)
        except BodyTooLarge:
            if not replaced:
                await _answer(send, 413, {"detail": f"request body larger than {limit} bytes"})


def _room_for(size: int) -> bool:
    """Whether the temporary folder keeps MIN_FREE_BYTES free after a body of ``size`` bytes."""
    try:
        free = shutil.disk_usage(tempfile.gettempdir()).free
    except OSError:
        return False  # cannot tell: fail closed for the upload (the door is what matters)
    return free - size >= MIN_FREE_BYTES


async def _answer(send: Send, status: int, body: dict[str, str] | None, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(body).encode() if body is not None else b""
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), (b"connection", b"close"), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": payload})
