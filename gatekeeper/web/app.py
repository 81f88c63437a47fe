"""`gatekeeper serve`: the web console (server-rendered pages) and the REST API under /api/v1.

Thin like the CLI: every use case is a call into the service layer (enrollment, people, audit,
access, accounts) through the same ``App``. Safety first: sessions are server-side (HttpOnly,
SameSite=Strict cookies, Secure behind TLS), every state-changing browser request carries the
session's CSRF token, sign-in is throttled, and roles are enforced here, on the server.
"""

# No "from __future__ import annotations": FastAPI reads these signatures, and the dependencies
# (who, changer) are closures that a postponed annotation could not find.

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.templating import Jinja2Templates

from gatekeeper.app import App
from gatekeeper.core.types import Decision
from gatekeeper.errors import GatekeeperError
from gatekeeper.services.accounts import Accounts, Principal
from gatekeeper.services.audit import AuditFilter, as_dict, to_csv
from gatekeeper.services.people import count_people, door_heartbeats, face_thumbnail, find_person, search_people
from gatekeeper.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, LoginThrottle, NotSignedIn, check_csrf, principal_of, require_admin
from gatekeeper.web.body_guard import BodyGuard
from gatekeeper.web.uploads import MAX_FILES, MAX_REQUEST_BYTES, FaceWork, read_upload

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
LIVE_POLL_S = 0.5
DECISIONS = tuple(d.value for d in Decision)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}  # the audit page's filter: door decisions and admin actions


def create_app(gk: App, secure_cookies: bool = False) -> FastAPI:
    """The console for this installation; ``secure_cookies`` when it is served behind TLS."""
    # The OpenAPI schema FastAPI generates, at /api/v1/openapi.json; no Swagger or ReDoc page: both
    # load their scripts from a CDN, and the console loads nothing from outside the box.
    # The schema is for integrators who hold a token: anonymous callers get 401 (it maps every
    # route, a map an attacker need not be handed).
    web = FastAPI(title="gatekeeper", version="1", docs_url=None, openapi_url=None, redoc_url=None)
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    accounts = Accounts(gk.sessions, gk.audit, "console")
    throttle = LoginThrottle()
    # Outermost: caps every body and reads none for someone not signed in (see body_guard).
    web.add_middleware(BodyGuard, accounts=accounts, max_bytes=MAX_REQUEST_BYTES)
    face_work = FaceWork()

    @web.middleware("http")
    async def _security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Every answer: only this server's scripts, styles and images; never framed; types as
        declared; no referrer to anywhere."""
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def who(request: Request) -> Principal:
        found = principal_of(request, accounts)
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

    def acting_accounts(principal: Principal) -> Accounts:
        return Accounts(gk.sessions, gk.audit, f"console:{principal.name}")

    def acting(principal: Principal) -> App:
        """The installation, with admin rows naming the console user who acted."""
        return gk.acting_as(f"console:{principal.name}")

    def page(request: Request, name: str, principal: Principal | None, status_code: int = 200, **context: object) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"me": principal, **context}, status_code=status_code)

    @web.exception_handler(NotSignedIn)
    async def _to_login(request: Request, _exc: NotSignedIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    @web.exception_handler(GatekeeperError)
    async def _refusal(request: Request, exc: GatekeeperError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @web.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """The API answers JSON; a browser asking for a page gets a page saying why."""
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        principal = principal_of(request, accounts)
        return page(request, "error.html", principal, status_code=exc.status_code, code=exc.status_code, detail=str(exc.detail))

    # -- signing in -----------------------------------------------------------------------
    @web.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = page(request, "login.html", None, login_csrf=token, error=None)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies, max_age=900)
        return response

    @web.post("/login")
    def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()], csrf: Annotated[str, Form()] = "") -> Response:
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not secrets.compare_digest(cookie, csrf):
            raise HTTPException(403, "missing or wrong sign-in token: reload the sign-in page")
        keys = [f"user:{username[:64]}", f"addr:{request.client.host if request.client else '?'}"]
        wait = throttle.retry_after(keys)
        if wait:
            return JSONResponse({"detail": f"too many failed sign-ins: try again in {wait} s"}, status_code=429, headers={"Retry-After": str(wait)})
        principal = accounts.authenticate(username, password)
        address = request.client.host if request.client else "?"
        if principal is None:
            throttle.failed(keys)
            accounts.record_sign_in(username, address, succeeded=False)
            return page(request, "login.html", None, login_csrf=csrf, error="wrong username or password")
        throttle.succeeded(keys)
        accounts.record_sign_in(principal.name, address, succeeded=True)
        accounts.close_session(request.cookies.get(SESSION_COOKIE))  # whatever session the browser brought ends here
        token, _ = accounts.open_session(principal)
        response = RedirectResponse("/people", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies, max_age=8 * 3600)
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @web.post("/logout")
    async def logout(request: Request, principal: Annotated[Principal, Depends(who)]) -> Response:
        form = await request.form()
        check_csrf(request, principal, str(form.get("csrf") or "") or None)
        accounts.close_session(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @web.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi_schema(principal: Annotated[Principal, Depends(who)]) -> JSONResponse:
        return JSONResponse(web.openapi())

    # -- accounts ---------------------------------------------------------------------------
    @web.get("/accounts", response_class=HTMLResponse)
    def accounts_page(request: Request, principal: Annotated[Principal, Depends(who)]) -> Response:
        """Your password; for admins also every console user and API token, with the means to
        revoke them."""
        users, tokens = (accounts.users(), accounts.tokens()) if principal.can_change else ([], [])
        return page(request, "accounts.html", principal, users=users, tokens=tokens, now=datetime.now(timezone.utc), message=request.query_params.get("message"))

    @web.post("/accounts/password")
    def change_own_password(principal: Annotated[Principal, Depends(signed_in_form)], current: Annotated[str, Form()], new: Annotated[str, Form()]) -> Response:
        """Anyone may change their own password, knowing the current one; all their sessions end."""
        if principal.name.startswith("token:") or accounts.authenticate(principal.name, current) is None:
            raise HTTPException(403, "the current password is wrong")
        acting_accounts(principal).set_password(principal.name, new)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @web.post("/accounts/users/{username}/remove")
    def remove_user(username: str, principal: Annotated[Principal, Depends(changer)]) -> Response:
        acting_accounts(principal).remove_user(username)
        return RedirectResponse("/accounts?message=user+removed", status_code=303)

    @web.post("/accounts/users/{username}/signout")
    def sign_out_user(username: str, principal: Annotated[Principal, Depends(changer)]) -> Response:
        ended = acting_accounts(principal).end_sessions(username)
        return RedirectResponse(f"/accounts?message={ended}+sessions+ended", status_code=303)

    @web.post("/accounts/tokens/{name}/revoke")
    def revoke_token(name: str, principal: Annotated[Principal, Depends(changer)]) -> Response:
        acting_accounts(principal).revoke_token(name)
        return RedirectResponse("/accounts?message=token+revoked", status_code=303)

    # -- people -----------------------------------------------------------------------------
    @web.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/people", status_code=303)

    @web.get("/people", response_class=HTMLResponse)
    def people_page(request: Request, principal: Annotated[Principal, Depends(who)], q: str = "", page_no: Annotated[int, Query(alias="page", ge=1)] = 1) -> Response:
        from gatekeeper.match.thresholds import door_outlook

        people, total = search_people(gk.sessions, q, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
        outlook = door_outlook(gk.settings, count_people(gk.sessions))
        return page(request, "people.html", principal, people=people, total=total, q=q, page=page_no, pages=max(1, -(-total // PAGE_SIZE)), outlook=outlook)

    @web.get("/people/{person_id}/thumbnail")
    def thumbnail(person_id: str, principal: Annotated[Principal, Depends(who)]) -> Response:
        jpeg = face_thumbnail(gk.sessions, gk.codec, person_id)
        if jpeg is None:
            raise HTTPException(404, f"no stored face for {person_id!r}")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})

    @web.get("/people/{person_id}", response_class=HTMLResponse)
    def person_page(request: Request, person_id: str, principal: Annotated[Principal, Depends(who)]) -> Response:
        found = find_person(gk.sessions, person_id)
        if found is None:
            raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
        person, photos = found
        return page(request, "person.html", principal, person=person, photos=photos, access=gk.access.person(person_id), message=request.query_params.get("message"))

    @web.post("/people/{person_id}/photos", response_class=HTMLResponse)
    async def add_photos(request: Request, person_id: str, principal: Annotated[Principal, Depends(changer)], photos: Annotated[list[UploadFile], File()]) -> Response:
        """More photos for an enrolled person (their template is recomputed from all of them)."""
        if find_person(gk.sessions, person_id) is None:
            raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
        result = await _enroll(acting(principal), face_work, person_id, None, photos, force=False, extend=True)
        return page(request, "enroll.html", principal, result=result, status_code=200 if result.enrolled else 422)

    @web.post("/people/{person_id}/rename")
    def rename(person_id: str, name: Annotated[str, Form()], principal: Annotated[Principal, Depends(changer)]) -> Response:
        if not acting(principal).enrollment.rename(person_id, name):
            raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
        return RedirectResponse(f"/people/{person_id}?message=renamed", status_code=303)

    @web.post("/people/{person_id}/badge")
    def badge(person_id: str, number: Annotated[str, Form()], principal: Annotated[Principal, Depends(changer)]) -> Response:
        """Give the person a badge number for card + face doors (empty: take it away); audited."""
        from gatekeeper.core.access import AccessPolicyError

        admin = acting(principal).access
        try:
            if number.strip():
                admin.set_badge(person_id, number.strip())
            else:
                admin.remove_badge(person_id)
        except AccessPolicyError as exc:
            raise HTTPException(422, str(exc)) from exc
        return RedirectResponse(f"/people/{person_id}?message=badge+{'set' if number.strip() else 'removed'}", status_code=303)

    @web.post("/people/{person_id}/remove", response_class=HTMLResponse)
    def remove(request: Request, person_id: str, principal: Annotated[Principal, Depends(changer)], anonymise: Annotated[bool, Form()] = False) -> Response:
        """The CLI's `people remove`, by the same service, with what it reports: snapshots that
        could not be deleted, and other ids whose face matches the removed one's."""
        app = acting(principal)
        report = app.forget(person_id, anonymise=anonymise, reason="removed in the console")
        if not report.removed and not report.audit_rows_anonymised:
            raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
        return page(request, "removed.html", principal, person_id=person_id, report=report, same_face=app.enrollment.same_face_as, status_code=200)

    @web.post("/people/{person_id}/anonymise")
    def anonymise(person_id: str, reason: Annotated[str, Form()], principal: Annotated[Principal, Depends(changer)]) -> Response:
        from gatekeeper.core.identifiers import InvalidIdentifier
        from gatekeeper.services.privacy import anonymise_person

        try:
            report = anonymise_person(gk.audit, person_id, reason, actor=f"console:{principal.name}")
        except InvalidIdentifier as exc:
            raise HTTPException(422, f"{exc} (it goes into the audit log)") from exc
        failed = f"+({len(report.snapshot_failures)}+snapshots+not+deleted)" if report.snapshot_failures else ""
        return RedirectResponse(f"/people/{person_id}?message=anonymised+{report.audit_rows_anonymised}+rows,+{report.snapshots_deleted}+snapshots+deleted{failed}", status_code=303)

    # -- enroll -----------------------------------------------------------------------------
    @web.get("/enroll", response_class=HTMLResponse)
    def enroll_form(request: Request, principal: Annotated[Principal, Depends(who)]) -> Response:
        require_admin(principal)
        return page(request, "enroll.html", principal, result=None)

    @web.post("/enroll", response_class=HTMLResponse)
    async def enroll(
        request: Request,
        principal: Annotated[Principal, Depends(changer)],
        person_id: Annotated[str, Form()],
        photos: Annotated[list[UploadFile], File()],
        name: Annotated[str, Form()] = "",
        force: Annotated[bool, Form()] = False,
        replace: Annotated[bool, Form()] = False,
    ) -> Response:
        result = await _enroll(acting(principal), face_work, person_id, name or None, photos, force, replace=replace)
        return page(request, "enroll.html", principal, result=result, status_code=200 if result.enrolled else 422)

    # -- audit ------------------------------------------------------------------------------
    @web.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, principal: Annotated[Principal, Depends(who)], person: str = "", decision: str = "", door: str = "", since: str = "", until: str = "", page_no: Annotated[int, Query(alias="page", ge=1)] = 1) -> Response:
        rows, total = gk.audit.page(_filter(person, decision, door, since, until), PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
        return page(request, "audit.html", principal, rows=rows, total=total, page=page_no, pages=max(1, -(-total // PAGE_SIZE)), person=person, decision=decision, door=door, since=since, until=until, decisions=DECISIONS, problems=None)

    @web.get("/audit/verify", response_class=HTMLResponse)
    def audit_verify(request: Request, principal: Annotated[Principal, Depends(who)]) -> Response:
        """The whole chain checked (seconds on a large log: on request, not on every page view)."""
        problems = gk.audit.verify()
        rows, total = gk.audit.page(AuditFilter(), PAGE_SIZE)
        return page(request, "audit.html", principal, rows=rows, total=total, page=1, pages=max(1, -(-total // PAGE_SIZE)), person="", decision="", door="", since="", until="", decisions=DECISIONS, problems=problems)

    @web.get("/audit/{event_id}/snapshot")
    def audit_snapshot(event_id: int, principal: Annotated[Principal, Depends(who)]) -> Response:
        """One row's face snapshot (when the door saves them), opened with the template key."""
        try:
            jpeg = gk.audit.snapshot_jpeg(event_id, gk.codec)
        except GatekeeperError as exc:
            raise HTTPException(404, str(exc)) from exc
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})

    @web.get("/audit/export")
    def audit_export(principal: Annotated[Principal, Depends(who)], person: str = "", decision: str = "", door: str = "", since: str = "", until: str = "", format: str = "csv") -> Response:
        return _export(gk, _filter(person, decision, door, since, until), format)

    # -- doors ------------------------------------------------------------------------------
    @web.get("/doors", response_class=HTMLResponse)
    def doors_page(request: Request, principal: Annotated[Principal, Depends(who)]) -> Response:
        from gatekeeper.match.thresholds import liveness_outlook

        return page(request, "doors.html", principal, doors=_doors(gk), now=datetime.now(timezone.utc), liveness=liveness_outlook(gk.settings))

    # -- the live door view ---------------------------------------------------------------
    @web.get("/live", response_class=HTMLResponse)
    def live_page(request: Request, principal: Annotated[Principal, Depends(who)]) -> Response:
        return page(request, "live.html", principal)

    @web.get("/live/events")
    async def live_events(request: Request, principal: Annotated[Principal, Depends(who)]) -> StreamingResponse:
        """Server-Sent Events: each door decision as it is written (polled from the audit log,
        which every door writes before it opens: what is shown here happened)."""

        async def stream() -> AsyncIterator[str]:
            last = await run_in_threadpool(gk.audit.last_event_id)
            yield ": connected\n\n"
            while not await request.is_disconnected():
                # A stream outlives the request that opened it: after a sign-out, an expiry or a
                # role change nothing more goes to it.
                now = await run_in_threadpool(principal_of, request, accounts)
                if now is None or now.name != principal.name or now.role != principal.role:
                    yield "event: signed-out\ndata: {}\n\n"
                    return
                for row in await run_in_threadpool(gk.audit.after, last):
                    last = row.event_id
                    yield f"id: {row.event_id}\nevent: decision\ndata: {json.dumps(_live_json(row))}\n\n"
                await asyncio.sleep(LIVE_POLL_S)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    # -- REST API ---------------------------------------------------------------------------
    @web.get("/api/v1/people", tags=["people"])
    def api_people(principal: Annotated[Principal, Depends(who)], q: str = "", limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, object]:
        people, total = search_people(gk.sessions, q, limit, offset)
        return {"total": total, "people": [_person_json(p) for p in people]}

    @web.get("/api/v1/people/{person_id}", tags=["people"])
    def api_person(person_id: str, principal: Annotated[Principal, Depends(who)]) -> dict[str, object]:
        found = find_person(gk.sessions, person_id)
        if found is None:
            raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
        person, photos = found
        return {**_person_json(person), "photo_quality": [p.quality for p in photos]}

    @web.post("/api/v1/people", tags=["people"])
    async def api_enroll(
        principal: Annotated[Principal, Depends(changer)],
        person_id: Annotated[str, Form()],
        photos: Annotated[list[UploadFile], File()],
        name: Annotated[str, Form()] = "",
        force: Annotated[bool, Form()] = False,
        replace: Annotated[bool, Form()] = False,
    ) -> Response:
        result = await _enroll(acting(principal), face_work, person_id, name or None, photos, force, replace=replace)
        body = {"person_id": result.person_id, "enrolled": result.enrolled, "reason": result.reason, "photos": [{"photo": p.path, "usable": p.ok, "reason": p.reason} for p in result.photos]}
        return JSONResponse(body, status_code=201 if result.enrolled else 422)

    @web.patch("/api/v1/people/{person_id}", tags=["people"])
    async def api_rename(request: Request, person_id: str, principal: Annotated[Principal, Depends(changer)]) -> dict[str, object]:
        """Rename: a JSON body ``{"name": ...}`` or a form field ``name``."""
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await request.json()
            except ValueError as exc:
                raise HTTPException(422, "the body is not JSON") from exc
            name = body.get("name") if isinstance(body, dict) else None
        else:
            name = (await request.form()).get("name")
        if not isinstance(name, str):
            raise HTTPException(422, "give the new display name as \"name\"")
        if not await run_in_threadpool(acting(principal).enrollment.rename, person_id, name):
            raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
        return {"person_id": person_id, "name": name}

    @web.delete("/api/v1/people/{person_id}", tags=["people"])
    def api_remove(person_id: str, principal: Annotated[Principal, Depends(changer)]) -> dict[str, object]:
        if find_person(gk.sessions, person_id) is None:
            raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
        acting(principal).forget(person_id, reason="removed through the API")
        return {"person_id": person_id, "removed": True}

    @web.post("/api/v1/verify", tags=["verify"])
    async def api_verify(principal: Annotated[Principal, Depends(changer)], photo: Annotated[UploadFile, File()]) -> dict[str, object]:
        """Who is in this photo, as the door would judge it. Admins only: a biometric search is not
        reading the log. A face that matches nobody comes back without candidates or scores."""
        from gatekeeper.services.verify import judge_photo

        image = await read_upload(photo)
        gallery = gk.gallery()
        faces = await face_work.run(judge_photo, gk.pipeline, gallery, gk.door_policy(len(gallery)), image)
        return {"faces": [{"verdict": f.verdict, "person_id": f.vote.person_id, "candidates": [{"person_id": c.person_id, "similarity": round(c.similarity, 4)} for c in f.candidates] if f.verdict == "match" else [],
                           "problems": f.problems, "box": [round(v, 1) for v in f.box], "liveness": f.liveness} for f in faces]}

    @web.get("/api/v1/audit", tags=["audit"])
    def api_audit(principal: Annotated[Principal, Depends(who)], person: str = "", decision: str = "", door: str = "", since: str = "", until: str = "", limit: Annotated[int, Query(ge=1, le=10000)] = 100, offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, object]:
        """Matching rows, newest first, with the total."""
        rows, total = gk.audit.page(_filter(person, decision, door, since, until), limit, offset)
        return {"total": total, "rows": [as_dict(r) for r in rows]}

    @web.get("/api/v1/audit/export", tags=["audit"])
    def api_export(principal: Annotated[Principal, Depends(who)], person: str = "", decision: str = "", door: str = "", since: str = "", until: str = "", format: str = "csv") -> Response:
        return _export(gk, _filter(person, decision, door, since, until), format)

    @web.get("/api/v1/doors", tags=["doors"])
    def api_doors(principal: Annotated[Principal, Depends(who)]) -> dict[str, object]:
        return {"doors": _doors(gk)}

    return web


async def _enroll(gk: App, work: FaceWork, person_id: str, name: str | None, photos: list[UploadFile], force: bool, extend: bool = False, replace: bool = False):  # type: ignore[no-untyped-def]
    """Each upload decoded safely (size, type, pixels) and embedded; then one enrollment, which
    refuses a lookalike of someone enrolled unless forced, and an id already enrolled unless
    ``replace`` (or ``extend``) says what to do with their face. Nothing is written on a refusal."""
    from gatekeeper.services.enrollment import PhotoResult, embed_image

    if not extend and not replace and find_person(gk.sessions, person_id) is not None:
        raise HTTPException(409, f"{person_id} is enrolled already: add photos on their page, or ask to replace their face (replace=true)")

    if len(photos) > MAX_FILES:
        raise HTTPException(413, f"{len(photos)} photos in one request: at most {MAX_FILES}")
    results = []
    for i, upload in enumerate(photos, 1):
        label = f"photo {i}"  # never the client's file name: it is the client's to choose
        try:
            results.append(await work.run(embed_image, gk.pipeline, await read_upload(upload), label))
        except HTTPException as exc:
            if exc.status_code == 413:
                raise
            results.append(PhotoResult(label, reason=str(exc.detail)))
    return await run_in_threadpool(gk.enrollment.enroll, person_id, name, results, extend, force)


def _filter(person: str, decision: str, door: str, since: str = "", until: str = "") -> AuditFilter:
    """The CLI's audit filters; ``since``/``until`` are ISO dates or times (UTC without an offset)."""
    if decision and decision not in {d.value for d in Decision}:
        raise HTTPException(422, f"decision {decision!r} is not one of {', '.join(d.value for d in Decision)}")
    return AuditFilter(person_id=person or None, decision=decision or None, door_id=door or None, since=_instant(since, "since"), until=_instant(until, "until"))


def _instant(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"{name} {text[:40]!r} is not an ISO date or time (e.g. 2026-12-01 or 2026-12-01T08:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _export(gk: App, f: AuditFilter, format: str) -> Response:
    """The same neutralised CSV (formulas defused) and JSON as `gatekeeper audit --format`."""
    from gatekeeper.services.audit import to_json

    rows = gk.audit.query(f)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if format == "csv":
        return Response(to_csv(rows), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})
    if format == "json":
        return Response(to_json(rows), media_type="application/json", headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.json"'})
    raise HTTPException(422, f"format {format!r}: use csv or json")


def _person_json(p) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"person_id": p.person_id, "name": p.name, "photos": p.photos, "model_version": p.model_version, "enrolled_at": p.created_at.isoformat()}


def _doors(gk: App) -> list[dict[str, object]]:
    """Every door that reported a heartbeat or that the access policy knows, with both."""
    policy = {d.door_id: d for d in gk.access.doors()}
    beats = {h.door_id: h for h in door_heartbeats(gk.sessions)}
    out = []
    for door_id in sorted(set(policy) | set(beats)):
        d, h = policy.get(door_id), beats.get(door_id)
        out.append({
            "door_id": door_id, "timezone": d.timezone if d else None, "lockdown": bool(d and d.lockdown),
            "heartbeat_at": _iso(h.updated_at) if h else None, "last_frame_at": _iso(h.last_frame_at) if h else None,
            "fps": h.fps if h else None, "camera": h.camera if h else None, "model_version": h.model_version if h else None,
            "gallery_generation": h.gallery_generation if h else None, "people": h.people if h else None,
        })
    return out


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat(timespec="seconds")


def _live_json(row) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"event_id": row.event_id, "at": row.at.isoformat(), "door": row.door_id, "decision": row.decision, "person": row.person_id, "nearest": row.nearest_id, "best": row.best_similarity, "detail": row.detail, "snapshot": bool(row.snapshot)}

