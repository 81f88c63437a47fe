"""Signing in and out, and the API's schema (for callers who are signed in or hold a token)."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from gatekeeper.web.deps import Ctx, Reader
from gatekeeper.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, check_csrf

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, ctx: Ctx) -> Response:
    token = secrets.token_urlsafe(32)
    response = ctx.page(request, "login.html", None, login_csrf=token, error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=ctx.secure_cookies, max_age=900)
    return response


@router.post("/login")
def login(request: Request, ctx: Ctx, username: Annotated[str, Form()], password: Annotated[str, Form()], csrf: Annotated[str, Form()] = "") -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf):
        raise HTTPException(403, "missing or wrong sign-in token: reload the sign-in page")
    address = request.client.host if request.client else "?"
    keys = [f"user:{username[:64]}", f"addr:{address}"]
    wait = ctx.throttle.retry_after(keys)
    if wait:
        return JSONResponse({"detail": f"too many failed sign-ins: try again in {wait} s"}, status_code=429, headers={"Retry-After": str(wait)})
    principal = ctx.accounts.authenticate(username, password)
    if principal is None:
        ctx.throttle.failed(keys)
        ctx.accounts.record_sign_in(username, address, succeeded=False)
        return ctx.page(request, "login.html", None, login_csrf=csrf, error="wrong username or password")
    ctx.throttle.succeeded(keys)
    ctx.accounts.record_sign_in(principal.name, address, succeeded=True)
    ctx.accounts.close_session(request.cookies.get(SESSION_COOKIE))  # whatever session the browser brought ends here
    token, _ = ctx.accounts.open_session(principal)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=ctx.secure_cookies, max_age=8 * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, ctx: Ctx, principal: Reader) -> Response:
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf") or "") or None)
    ctx.accounts.close_session(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/api/v1/openapi.json")
def openapi_schema(request: Request, principal: Reader) -> JSONResponse:
    """The schema maps every route: for integrators who hold a token, not for anonymous callers."""
    return JSONResponse(request.app.openapi())
