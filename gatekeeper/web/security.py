"""The console's guards: who is asking (session cookie or API token), whether they may change
things, CSRF on every state-changing request from a browser, and sign-in throttling."""

from __future__ import annotations

import hmac
import time
from collections import defaultdict, deque

from fastapi import HTTPException, Request

from gatekeeper.services.accounts import Accounts, Principal

SESSION_COOKIE = "gk_session"
LOGIN_CSRF_COOKIE = "gk_login_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class NotSignedIn(Exception):
    """A page asked for without a valid session: the handler sends the browser to /login."""


class LoginThrottle:
    """At most ``failures`` wrong passwords per ``window_s`` for one username, and
    ``address_failures`` for one client address (higher: behind a reverse proxy every client
    shares one address, and one guesser must not lock everybody out); past either, every
    attempt is refused (429) until the window has passed, the right password included, so
    guessing costs the guesser time, not the server's CPU."""

    def __init__(self, failures: int = 5, address_failures: int = 20, window_s: float = 300.0) -> None:
        self.window_s = window_s
        self._limits = {"user": failures, "addr": address_failures}
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, keys: list[str], now: float | None = None) -> int:
        """Seconds until these keys (``user:...``, ``addr:...``) may try again; 0 when they may now."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key in keys:
            seen = self._seen[key]
            while seen and now - seen[0] > self.window_s:
                seen.popleft()
            if len(seen) >= self._limits[key.split(":", 1)[0]]:
                wait = max(wait, self.window_s - (now - seen[0]))
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, keys: list[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in keys:
            self._seen[key].append(now)

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            if key.startswith("user:"):  # a right password clears that user's count, not the address's
                self._seen.pop(key, None)


def principal_of(request: Request, accounts: Accounts) -> Principal | None:
    """An API token (``Authorization: Bearer``) or a browser session cookie; None when neither."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return accounts.token_principal(auth[7:].strip())
    return accounts.session_principal(request.cookies.get(SESSION_COOKIE))


def check_csrf(request: Request, principal: Principal, form_token: str | None = None) -> None:
    """A browser session's state-changing request must carry its CSRF token (form field ``csrf``
    or header ``X-CSRF-Token``); a token-authenticated API call carries no cookie to abuse."""
    if request.method in SAFE_METHODS or principal.csrf_token is None:
        return
    sent = form_token or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def require_admin(principal: Principal) -> None:
    if not principal.can_change:
        raise HTTPException(403, f"{principal.name} is an {principal.role.value}: reading and exporting only")
