"""`gatekeeper serve`: the web console (server-rendered pages) and the REST API under /api/v1.

Thin like the CLI: every use case is a call into the service layer (enrollment, people, audit,
access, accounts) through the same ``App``; the routes live in ``web/routers``, one router per
domain, and the API's bodies in ``web/defs``. Safety first: sessions are server-side (HttpOnly,
SameSite=Strict cookies, Secure behind TLS), every state-changing browser request carries the
session's CSRF token, sign-in is throttled, and roles are enforced here, on the server.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from gatekeeper.app import App
from gatekeeper.core.types import decision_kind
from gatekeeper.errors import GatekeeperError
from gatekeeper.services.accounts import Accounts
from gatekeeper.web.body_guard import BodyGuard
from gatekeeper.web.deps import Console
from gatekeeper.web.routers import access, access_api, accounts, api, audit, auth, doors, gallery_map, live, overview, people, review, review_api
from gatekeeper.web.security import LoginThrottle, NotSignedIn, principal_of
from gatekeeper.web.uploads import MAX_REQUEST_BYTES, FaceWork

HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(gk: App, secure_cookies: bool = False) -> FastAPI:
    """The console for this installation; ``secure_cookies`` when it is served behind TLS."""
    # The OpenAPI schema is served at /api/v1/openapi.json to callers who are signed in or hold a
    # token (routers/auth.py); no Swagger or ReDoc page: both load their scripts from a CDN, and
    # the console loads nothing from outside the box.
    web = FastAPI(title="gatekeeper", version="1", docs_url=None, openapi_url=None, redoc_url=None)
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    accounts_ = Accounts(gk.sessions, gk.audit, "console")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["kind"] = decision_kind  # every decision coloured by its kind, on every page
    web.state.console = Console(gk, accounts_, templates, LoginThrottle(), FaceWork(), secure_cookies)
    # Outermost: caps every body and reads none for someone not signed in (see body_guard).
    web.add_middleware(BodyGuard, accounts=accounts_, max_bytes=MAX_REQUEST_BYTES)
    web.middleware("http")(_security_headers)
    web.add_exception_handler(NotSignedIn, _to_login)
    web.add_exception_handler(GatekeeperError, _refusal)
    web.add_exception_handler(StarletteHTTPException, _http_error)
    for module in (auth, accounts, overview, people, gallery_map, audit, doors, access, review, live, api, access_api, review_api):
        web.include_router(module.router)
    return web


async def _security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
    """Every answer: only this server's scripts, styles and images; never framed; types as
    declared; no referrer to anywhere."""
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    return response


async def _to_login(request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)


async def _refusal(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=400)


async def _http_error(request: Request, exc: Exception) -> Response:
    """The API answers JSON; a browser asking for a page gets a page saying why."""
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    ctx: Console = request.app.state.console
    principal = principal_of(request, ctx.accounts)
    return ctx.page(request, "error.html", principal, status_code=exc.status_code, code=exc.status_code, detail=str(exc.detail))
