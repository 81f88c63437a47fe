"""The console's guards: who is asking (session cookie or API token), whether they may change
things, CSRF on every state-changing request from a browser, and sign-in throttling."""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict

from fastapi import HTTPException, Request

from gatekeeper.services.accounts import Accounts, Principal

SESSION_COOKIE = "gk_session"
LOGIN_CSRF_COOKIE = "gk_login_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class NotSignedIn(Exception):
    """A page asked for without a valid session: the handler sends the browser to /login."""


class LoginThrottle:
    """Backoff, never lockout. After ``free`` failures for a key (a username, or a client address:
    behind a reverse proxy every client shares one, so it gets more), each further attempt must
    wait a delay that doubles with every failure, up to ``max_delay_s``; a key's count is
    forgotten ``window_s`` after its last failure, and a right password clears its user's count.
    Guessing costs the guesser time; the real user waits at most ``max_delay_s``, whoever is
    guessing. At most ``max_keys`` keys are remembered (the least recently failed go first), so a
    flood of made-up names cannot grow memory."""

    def __init__(self, failures: int = 5, address_failures: int = 20, max_delay_s: float = 60.0, window_s: float = 900.0, max_keys: int = 10_000) -> None:
        self.window_s, self.max_delay_s, self.max_keys = window_s, max_delay_s, max_keys
        self._free = {"user": failures, "addr": address_failures}
        self._seen: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (failures, last failure)

    def retry_after(self, keys: list[str], now: float | None = None) -> int:
        """Seconds until these keys (``user:...``, ``addr:...``) may try again; 0 when they may now."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key in keys:
            failures, last = self._seen.get(key, (0, now))
            if now - last > self.window_s:
                self._seen.pop(key, None)
                continue
            over = failures - self._free[key.split(":", 1)[0]]
            if over >= 0:
                wait = max(wait, last + min(self.max_delay_s, 2.0 ** (over + 1)) - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, keys: list[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in keys:
            failures, last = self._seen.pop(key, (0, now))
            self._seen[key] = (0 if now - last > self.window_s else failures) + 1, now
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            if key.startswith("user:"):  # a right password clears that user's count, not the address's
                self._seen.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen)


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
