"""What every console route shares: the installation and its console parts (``Console``, kept on
``app.state``), who is asking (``who``), an admin with the session's CSRF token (``changer``), and
the page renderer. Routes are plain functions in ``web/routers``; they reach the installation
through these dependencies, never through a closure."""

# No "from __future__ import annotations": FastAPI reads these signatures at run time.

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from gatekeeper.app import App
from gatekeeper.errors import GatekeeperError
from gatekeeper.services.accounts import Accounts, Principal
from gatekeeper.web.security import LoginThrottle, NotSignedIn, check_csrf, principal_of, require_admin
from gatekeeper.web.map_drawer import MapDrawer
from gatekeeper.web.pending import PendingEnrollments
from gatekeeper.web.uploads import FaceWork

PAGE_SIZE = 50


@dataclass
class Console:
    """The console's parts, built once per app by ``create_app``."""

    gk: App
    accounts: Accounts
    templates: Jinja2Templates
    throttle: LoginThrottle
    face_work: FaceWork
    secure_cookies: bool
    pending: PendingEnrollments = field(default_factory=PendingEnrollments)  # photos awaiting "enroll anyway"
    maps: MapDrawer = field(default_factory=MapDrawer)  # the gallery map, drawn in the background

    def acting(self, principal: Principal) -> App:
        """The installation, with admin rows naming the console user who acted."""
        return self.gk.acting_as(f"console:{principal.name}")

    def acting_accounts(self, principal: Principal) -> Accounts:
        return Accounts(self.gk.sessions, self.gk.audit, f"console:{principal.name}")

    def page(self, request: Request, name: str, principal: Principal | None, status_code: int = 200, **context: object) -> HTMLResponse:
        return self.templates.TemplateResponse(request, name, {"me": principal, **context}, status_code=status_code)


def console(request: Request) -> Console:
    return request.app.state.console


def who(request: Request) -> Principal:
    """The signed-in user or API token; the API answers 401, a page redirects to sign-in."""
    found = principal_of(request, console(request).accounts)
    if found is None:
        if request.url.path.startswith("/api/"):
            raise HTTPException(401, "sign in, or send Authorization: Bearer <API token>")
        raise NotSignedIn()
    return found


async def changer(request: Request, principal: Annotated[Principal, Depends(who)]) -> Principal:
    """An admin, with the session's CSRF token on the request (form field or header)."""
    form = await request.form() if request.headers.get("content-type", "").startswith(("multipart/", "application/x-www-form")) else {}
    check_csrf(request, principal, str(form.get("csrf") or "") or None)
    require_admin(principal)
    return principal


async def signed_in_form(request: Request, principal: Annotated[Principal, Depends(who)]) -> Principal:
    """Anyone signed in, with the session's CSRF token (changes to their own account)."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf") or "") or None)
    return principal


Ctx = Annotated[Console, Depends(console)]
Reader = Annotated[Principal, Depends(who)]
Admin = Annotated[Principal, Depends(changer)]


def after_change(page: str, change: Callable[[], str], **back: str) -> RedirectResponse:
    """Run one change made from a page's form; back to ``page`` saying what it did, or why the
    services refused it (nothing changed then)."""
    try:
        said = {"message": change()}
    except GatekeeperError as exc:
        said = {"error": str(exc)}
    return RedirectResponse(f"{page}?{urlencode({**back, **said})}", status_code=303)


def pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))
