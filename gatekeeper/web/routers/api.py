"""The REST API under /api/v1: people, verify, audit, doors. Bodies are the models in
``web/defs``; every route calls the same services as the pages and the CLI."""

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from gatekeeper.services.audit import as_dict
from gatekeeper.services.people import search_people
from gatekeeper.services.verify import FaceVerdictOut
from gatekeeper.web.defs.audit import AuditPageOut, AuditRowOut
from gatekeeper.web.defs.doors import DoorsOut
from gatekeeper.web.defs.people import EnrollmentOut, PeopleOut, PersonDetailOut, PersonOut, PhotosOut, RenamedOut, RemovedOut
from gatekeeper.web.defs.verify import VerifyOut
from gatekeeper.web.deps import Admin, Ctx, Reader
from gatekeeper.web.routers.audit import audit_filter, export
from gatekeeper.web.routers.doors import doors_of
from gatekeeper.web.routers.people import enroll_uploads, enrolled
from gatekeeper.web.uploads import read_upload

router = APIRouter(prefix="/api/v1")


@router.get("/people", tags=["people"])
def api_people(ctx: Ctx, principal: Reader, q: str = "", limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0) -> PeopleOut:
    people, total = search_people(ctx.gk.sessions, q, limit, offset)
    return PeopleOut(total=total, people=[PersonOut.of(p) for p in people])


@router.get("/people/{person_id}", tags=["people"])
def api_person(person_id: str, ctx: Ctx, principal: Reader) -> PersonDetailOut:
    person, photos = enrolled(ctx.gk, person_id)
    return PersonDetailOut(**PersonOut.of(person).model_dump(), photo_quality=[p.quality for p in photos])


@router.post("/people", tags=["people"], status_code=201, response_model=EnrollmentOut, responses={422: {"model": EnrollmentOut, "description": "not enrolled: each photo's reason"}})
async def api_enroll(ctx: Ctx, principal: Admin, person_id: Annotated[str, Form()], photos: Annotated[list[UploadFile], File()],
                     name: Annotated[str, Form()] = "", force: Annotated[bool, Form()] = False, replace: Annotated[bool, Form()] = False) -> Response:
    result = await enroll_uploads(ctx.acting(principal), ctx.face_work, person_id, name or None, photos, force, replace=replace)
    return JSONResponse(EnrollmentOut.of(result).model_dump(), status_code=201 if result.enrolled else 422)


@router.get("/people/{person_id}/photos", tags=["people"])
def api_photos(person_id: str, ctx: Ctx, principal: Reader) -> PhotosOut:
    return PhotosOut.of(person_id, enrolled(ctx.gk, person_id)[1])


@router.post("/people/{person_id}/photos", tags=["people"], response_model=EnrollmentOut, responses={422: {"model": EnrollmentOut, "description": "not added: each photo's reason"}})
async def api_add_photos(person_id: str, ctx: Ctx, principal: Admin, photos: Annotated[list[UploadFile], File()], force: Annotated[bool, Form()] = False) -> Response:
    """More photos for an enrolled person; their template is recomputed from all of them."""
    enrolled(ctx.gk, person_id)
    result = await enroll_uploads(ctx.acting(principal), ctx.face_work, person_id, None, photos, force, extend=True)
    return JSONResponse(EnrollmentOut.of(result).model_dump(), status_code=200 if result.enrolled else 422)


@router.delete("/people/{person_id}/photos/{photo_id}", tags=["people"])
def api_remove_photo(person_id: str, photo_id: int, ctx: Ctx, principal: Admin) -> PhotosOut:
    """One photo out; the template is recomputed from the rest (the last photo cannot go: remove the person)."""
    if not ctx.acting(principal).enrollment.remove_photo(person_id, photo_id):
        raise HTTPException(404, f"{person_id!r} has no photo {photo_id}")
    return PhotosOut.of(person_id, enrolled(ctx.gk, person_id)[1])


@router.patch("/people/{person_id}", tags=["people"])
async def api_rename(request: Request, person_id: str, ctx: Ctx, principal: Admin) -> RenamedOut:
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
    if not await run_in_threadpool(ctx.acting(principal).enrollment.rename, person_id, name):
        raise HTTPException(404, f"nobody is enrolled as {person_id!r}")
    return RenamedOut(person_id=person_id, name=name)


@router.delete("/people/{person_id}", tags=["people"])
def api_remove(person_id: str, ctx: Ctx, principal: Admin) -> RemovedOut:
    enrolled(ctx.gk, person_id)
    ctx.acting(principal).forget(person_id, reason="removed through the API")
    return RemovedOut(person_id=person_id, removed=True)


@router.post("/verify", tags=["verify"])
async def api_verify(ctx: Ctx, principal: Admin, photo: Annotated[UploadFile, File()]) -> VerifyOut:
    """Who is in this photo, as the door would judge it. Admins only: a biometric search is not
    reading the log. A face that matches nobody comes back without candidates or scores."""
    from gatekeeper.services.verify import judge_photo

    image = await read_upload(photo)
    gallery = ctx.gk.gallery()
    faces = await ctx.face_work.run(judge_photo, ctx.gk.pipeline, gallery, ctx.gk.door_policy(len(gallery)), image)
    return VerifyOut(faces=[FaceVerdictOut.of(f, scores_for_non_matches=False) for f in faces])


@router.get("/audit", tags=["audit"])
def api_audit(ctx: Ctx, principal: Reader, person: str = "", decision: str = "", door: str = "", since: str = "", until: str = "",
              limit: Annotated[int, Query(ge=1, le=10000)] = 100, offset: Annotated[int, Query(ge=0)] = 0) -> AuditPageOut:
    """Matching rows, newest first, with the total."""
    rows, total = ctx.gk.audit.page(audit_filter(ctx.gk, person, decision, door, since, until), limit, offset)
    return AuditPageOut(total=total, rows=[AuditRowOut(**as_dict(r)) for r in rows])


@router.get("/audit/export", tags=["audit"])
def api_export(ctx: Ctx, principal: Reader, person: str = "", decision: str = "", door: str = "", since: str = "", until: str = "", format: str = "csv") -> Response:
    return export(ctx.gk, audit_filter(ctx.gk, person, decision, door, since, until), format)


@router.get("/doors", tags=["doors"])
def api_doors(ctx: Ctx, principal: Reader) -> DoorsOut:
    return DoorsOut(doors=doors_of(ctx.gk))
