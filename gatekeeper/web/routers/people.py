"""People pages: the list, one person, enrolling, more photos, rename, badge, removal."""

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from gatekeeper.app import App
from gatekeeper.services.people import count_people, face_thumbnail, find_person, search_people
from gatekeeper.web.deps import PAGE_SIZE, Admin, Ctx, Reader, pages
from gatekeeper.web.security import require_admin
from gatekeeper.web.uploads import MAX_FILES, FaceWork, read_upload

router = APIRouter(include_in_schema=False)


@router.get("/people")
def people_page(request: Request, ctx: Ctx, principal: Reader, q: str = "", page_no: Annotated[int, Query(alias="page", ge=1)] = 1) -> Response:
    from gatekeeper.match.thresholds import door_outlook

    people, total = search_people(ctx.gk.sessions, q, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    outlook = door_outlook(ctx.gk.settings, count_people(ctx.gk.sessions))
    return ctx.page(request, "people.html", principal, people=people, total=total, q=q, page=page_no, pages=pages(total), outlook=outlook)


@router.get("/people/{person_id}/thumbnail")
def thumbnail(person_id: str, ctx: Ctx, principal: Reader) -> Response:
    jpeg = face_thumbnail(ctx.gk.sessions, ctx.gk.codec, person_id)
    if jpeg is None:
        raise HTTPException(404, f"no stored face for {person_id!r}")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})


@router.get("/people/{person_id}")
def person_page(request: Request, person_id: str, ctx: Ctx, principal: Reader) -> Response:
    person, photos = enrolled(ctx.gk, person_id)
    return ctx.page(request, "person.html", principal, person=person, photos=photos, access=ctx.gk.access.person(person_id), message=request.query_params.get("message"))


@router.post("/people/{person_id}/photos")
async def add_photos(request: Request, person_id: str, ctx: Ctx, principal: Admin, photos: Annotated[list[UploadFile], File()]) -> Response:
    """More photos for an enrolled person (their template is recomputed from all of them)."""
    enrolled(ctx.gk, person_id)
    result = await enroll_uploads(ctx.acting(principal), ctx.face_work, person_id, None, photos, force=False, extend=True)
    return _result_page(request, ctx, principal, result, extend=True)


@router.post("/people/{person_id}/photos/{photo_id}/remove")
def remove_photo(person_id: str, photo_id: int, ctx: Ctx, principal: Admin) -> Response:
    """One photo out (a wrong face, a poor picture); the template is recomputed from the rest."""
    if not ctx.acting(principal).enrollment.remove_photo(person_id, photo_id):
        raise HTTPException(404, f"{person_id!r} has no photo {photo_id}")
    return RedirectResponse(f"/people/{person_id}?message=photo+removed", status_code=303)


@router.post("/people/{person_id}/rename")
def rename(person_id: str, name: Annotated[str, Form()], ctx: Ctx, principal: Admin) -> Response:
    if not ctx.acting(principal).enrollment.rename(person_id, name):
        raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
    return RedirectResponse(f"/people/{person_id}?message=renamed", status_code=303)


@router.post("/people/{person_id}/badge")
def badge(person_id: str, number: Annotated[str, Form()], ctx: Ctx, principal: Admin) -> Response:
    """Give the person a badge number for card + face doors (empty: take it away); audited."""
    from gatekeeper.core.access import AccessPolicyError

    admin = ctx.acting(principal).access
    try:
        if number.strip():
            admin.set_badge(person_id, number.strip())
        else:
            admin.remove_badge(person_id)
    except AccessPolicyError as exc:
        raise HTTPException(422, str(exc)) from exc
    return RedirectResponse(f"/people/{person_id}?message=badge+{'set' if number.strip() else 'removed'}", status_code=303)


@router.post("/people/{person_id}/remove")
def remove(request: Request, person_id: str, ctx: Ctx, principal: Admin, anonymise: Annotated[bool, Form()] = False) -> Response:
    """The CLI's `people remove`, by the same service, with what it reports: snapshots that
    could not be deleted, and other ids whose face matches the removed one's."""
    app = ctx.acting(principal)
    report = app.forget(person_id, anonymise=anonymise, reason="removed in the console")
    if not report.removed and not report.audit_rows_anonymised:
        raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
    return ctx.page(request, "removed.html", principal, person_id=person_id, report=report, same_face=app.enrollment.same_face_as, status_code=200)


@router.post("/people/{person_id}/anonymise")
def anonymise(person_id: str, reason: Annotated[str, Form()], ctx: Ctx, principal: Admin) -> Response:
    from gatekeeper.core.identifiers import InvalidIdentifier
    from gatekeeper.services.privacy import anonymise_person

    try:
        report = anonymise_person(ctx.gk.audit, person_id, reason, actor=f"console:{principal.name}")
    except InvalidIdentifier as exc:
        raise HTTPException(422, f"{exc} (it goes into the audit log)") from exc
    failed = f"+({len(report.snapshot_failures)}+snapshots+not+deleted)" if report.snapshot_failures else ""
    return RedirectResponse(f"/people/{person_id}?message=anonymised+{report.audit_rows_anonymised}+rows,+{report.snapshots_deleted}+snapshots+deleted{failed}", status_code=303)


@router.get("/enroll")
def enroll_form(request: Request, ctx: Ctx, principal: Reader) -> Response:
    require_admin(principal)
    return ctx.page(request, "enroll.html", principal, result=None)


@router.post("/enroll")
async def enroll(request: Request, ctx: Ctx, principal: Admin, person_id: Annotated[str, Form()], photos: Annotated[list[UploadFile], File()],
                 name: Annotated[str, Form()] = "", force: Annotated[bool, Form()] = False, replace: Annotated[bool, Form()] = False) -> Response:
    result = await enroll_uploads(ctx.acting(principal), ctx.face_work, person_id, name or None, photos, force, replace=replace)
    return _result_page(request, ctx, principal, result, extend=False)


@router.post("/enroll/anyway")
async def enroll_anyway(request: Request, ctx: Ctx, principal: Admin, token: Annotated[str, Form(max_length=64)]) -> Response:
    """The second click after a lookalike refusal: the same photos, kept on the server, enrolled
    although the face looks like someone enrolled (an admin's call, audited as theirs)."""
    pending = ctx.pending.take(principal.name, token)
    if pending is None:
        raise HTTPException(410, "those photos are no longer kept (10 minutes, one use): upload them again")
    gk = ctx.acting(principal)
    result = await run_in_threadpool(gk.enrollment.enroll, pending.person_id, pending.name, pending.photos, pending.extend, True)
    return _result_page(request, ctx, principal, result, extend=pending.extend)


def _result_page(request: Request, ctx: Ctx, principal: Admin, result, extend: bool) -> Response:  # type: ignore[no-untyped-def]
    """The quality gate's verdict per photo; after a lookalike refusal, an "Enroll anyway" button
    that needs no second upload."""
    anyway = ctx.pending.keep(principal.name, result.person_id, None if extend else result.name, result.photos, extend) if (result.lookalike and not result.enrolled) else None
    return ctx.page(request, "enroll.html", principal, result=result, anyway=anyway, status_code=200 if result.enrolled else 422)


def enrolled(gk: App, person_id: str):  # type: ignore[no-untyped-def]
    """(person, photos), or 404."""
    found = find_person(gk.sessions, person_id)
    if found is None:
        raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
    return found


async def enroll_uploads(gk: App, work: FaceWork, person_id: str, name: str | None, photos: list[UploadFile], force: bool, extend: bool = False, replace: bool = False):  # type: ignore[no-untyped-def]
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
