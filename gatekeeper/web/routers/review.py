"""The review page (/review): refused door faces and door template candidates, each with its
face (admins only) and nearest enrolled people; an admin assigns, dismisses, or marks "not this
person". The same ``ReviewQueue`` and ``DoorTemplates`` calls as the API's."""

from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from gatekeeper.errors import GatekeeperError
from gatekeeper.web.deps import Admin, Ctx, Reader, after_change
from gatekeeper.web.routers.review_api import review_of
from gatekeeper.web.security import require_admin

router = APIRouter(prefix="/review", include_in_schema=False)


@router.get("")
def review_page(request: Request, ctx: Ctx, principal: Reader) -> Response:
    return ctx.page(request, "review.html", principal, review=review_of(ctx.gk), message=request.query_params.get("message"), error=request.query_params.get("error"),
                    retention=ctx.gk.settings.review_retention_days)


@router.get("/captures/{capture_id}/face")
def capture_face(capture_id: int, ctx: Ctx, principal: Reader) -> Response:
    require_admin(principal)  # faces of strangers: admins only
    try:
        jpeg = ctx.gk.review.face_jpeg(capture_id)
    except GatekeeperError as exc:
        raise HTTPException(404, str(exc)) from exc
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/candidates/{candidate_id}/face")
def candidate_face(candidate_id: int, ctx: Ctx, principal: Reader) -> Response:
    require_admin(principal)
    try:
        jpeg = ctx.gk.door_templates.face_jpeg(candidate_id)
    except KeyError as exc:
        raise HTTPException(404, f"no template candidate {candidate_id}") from exc
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.post("/captures/{capture_id}/assign")
async def assign(capture_id: int, ctx: Ctx, principal: Admin, person_id: Annotated[str, Form(max_length=64)], force: Annotated[bool, Form()] = False) -> Response:
    def change() -> str:
        result = ctx.acting(principal).review.assign(capture_id, person_id, force)
        if not result.enrolled:
            raise _Refused(f"not added to {person_id}: {result.reason}")
        return f"added to {person_id}'s template"

    return await run_in_threadpool(after_change, "/review", change)


@router.post("/captures/{capture_id}/dismiss")
def dismiss(capture_id: int, ctx: Ctx, principal: Admin) -> Response:
    def change() -> str:
        ctx.acting(principal).review.dismiss(capture_id)
        return "dismissed"

    return after_change("/review", change)


@router.post("/captures/{capture_id}/not-person")
def not_person(capture_id: int, ctx: Ctx, principal: Admin, person_id: Annotated[str, Form(max_length=64)]) -> Response:
    def change() -> str:
        ctx.acting(principal).review.not_this_person(capture_id, person_id)
        return f"kept as not {person_id}: never granted as them"

    return after_change("/review", change)


@router.post("/candidates/{candidate_id}/{action}")
async def candidate(candidate_id: int, action: Literal["accept", "dismiss", "not-person"], ctx: Ctx, principal: Admin) -> Response:
    def change() -> str:
        templates = ctx.acting(principal).door_templates
        try:
            if action == "accept":
                result = templates.accept(candidate_id)
                if not result.enrolled:
                    raise _Refused(f"not added: {result.reason}")
                return f"added to {result.person_id}'s template"
            if action == "dismiss":
                return "dismissed" if templates.dismiss(candidate_id) else "already gone"
            return f"kept as not {templates.not_this_person(candidate_id)}: never granted as them"
        except KeyError as exc:
            raise _Refused(f"no template candidate {candidate_id}") from exc

    return await run_in_threadpool(after_change, "/review", change)


class _Refused(GatekeeperError):
    """An action the services refused: shown on the page, nothing changed."""
