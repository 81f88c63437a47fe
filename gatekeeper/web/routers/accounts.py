"""Console users and API tokens: your own password; for admins every account, with revocation."""

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from gatekeeper.services.accounts import Principal
from gatekeeper.web.deps import Admin, Ctx, Reader, signed_in_form
from gatekeeper.web.security import SESSION_COOKIE

router = APIRouter(prefix="/accounts", include_in_schema=False)


@router.get("")
def accounts_page(request: Request, ctx: Ctx, principal: Reader) -> Response:
    users, tokens = (ctx.accounts.users(), ctx.accounts.tokens()) if principal.can_change else ([], [])
    return ctx.page(request, "accounts.html", principal, users=users, tokens=tokens, now=datetime.now(timezone.utc), message=request.query_params.get("message"))


@router.post("/password")
def change_own_password(ctx: Ctx, principal: Annotated[Principal, Depends(signed_in_form)], current: Annotated[str, Form()], new: Annotated[str, Form()]) -> Response:
    """Anyone may change their own password, knowing the current one; all their sessions end."""
    if principal.name.startswith("token:") or ctx.accounts.authenticate(principal.name, current) is None:
        raise HTTPException(403, "the current password is wrong")
    ctx.acting_accounts(principal).set_password(principal.name, new)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/users/{username}/remove")
def remove_user(username: str, ctx: Ctx, principal: Admin) -> Response:
    ctx.acting_accounts(principal).remove_user(username)
    return RedirectResponse("/accounts?message=user+removed", status_code=303)


@router.post("/users/{username}/signout")
def sign_out_user(username: str, ctx: Ctx, principal: Admin) -> Response:
    ended = ctx.acting_accounts(principal).end_sessions(username)
    return RedirectResponse(f"/accounts?message={ended}+sessions+ended", status_code=303)


@router.post("/tokens/{name}/revoke")
def revoke_token(name: str, ctx: Ctx, principal: Admin) -> Response:
    ctx.acting_accounts(principal).revoke_token(name)
    return RedirectResponse("/accounts?message=token+revoked", status_code=303)
