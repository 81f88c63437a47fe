"""The review queue in the REST API (/api/v1/review): refused door faces and door template
candidates, each assigned to a person, dismissed, or marked as not a person. Admins change it;
auditors read the list (faces are admin-only)."""

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from gatekeeper.app import App
from gatekeeper.web.defs.access import ChangedOut
from gatekeeper.web.defs.people import EnrollmentOut
from gatekeeper.web.defs.review import AssignIn, CandidateOut, CaptureOut, NearestOut, NotPersonIn, ReviewOut
from gatekeeper.web.deps import Admin, Ctx, Reader

router = APIRouter(prefix="/api/v1/review", tags=["review"])


def review_of(gk: App) -> ReviewOut:
    captures = [CaptureOut(capture_id=c.capture_id, event_id=c.event_id, door_id=c.door_id, at=c.at, decision=c.decision, nearest_id=c.nearest_id,
                           best_similarity=c.best_similarity, nearest_now=[NearestOut(person_id=n.person_id, similarity=n.similarity) for n in c.nearest_now])
                for c in gk.review.pending()]
    candidates = [CandidateOut(candidate_id=c.candidate_id, person_id=c.person_id, door_id=c.door_id, at=c.at, similarity=c.similarity) for c in gk.door_templates.pending()]
    return ReviewOut(captures=captures, candidates=candidates)


@router.get("")
def api_review(ctx: Ctx, principal: Reader) -> ReviewOut:
    return review_of(ctx.gk)


@router.post("/captures/{capture_id}/assign")
async def api_assign(capture_id: int, body: AssignIn, ctx: Ctx, principal: Admin) -> EnrollmentOut:
    """Add the face to the person's template (the duplicate check applies); 422 with the reason when refused."""
    result = await run_in_threadpool(ctx.acting(principal).review.assign, capture_id, body.person_id, body.force)
    if not result.enrolled:
        raise HTTPException(422, result.reason or "not added")
    return EnrollmentOut.of(result)


@router.post("/captures/{capture_id}/dismiss")
def api_dismiss(capture_id: int, ctx: Ctx, principal: Admin) -> ChangedOut:
    ctx.acting(principal).review.dismiss(capture_id)
    return ChangedOut(done=f"capture {capture_id} dismissed")


@router.post("/captures/{capture_id}/not-person")
def api_not_person(capture_id: int, body: NotPersonIn, ctx: Ctx, principal: Admin) -> ChangedOut:
    """Keep the face as one that is not this person: never granted as them."""
    ctx.acting(principal).review.not_this_person(capture_id, body.person_id)
    return ChangedOut(done=f"capture {capture_id} kept as not {body.person_id}")


@router.post("/candidates/{candidate_id}/accept")
async def api_accept(candidate_id: int, ctx: Ctx, principal: Admin) -> EnrollmentOut:
    try:
        result = await run_in_threadpool(ctx.acting(principal).door_templates.accept, candidate_id)
    except KeyError as exc:
        raise HTTPException(404, f"no template candidate {candidate_id}") from exc
    if not result.enrolled:
        raise HTTPException(422, result.reason or "not added")
    return EnrollmentOut.of(result)


@router.post("/candidates/{candidate_id}/dismiss")
def api_dismiss_candidate(candidate_id: int, ctx: Ctx, principal: Admin) -> ChangedOut:
    if not ctx.acting(principal).door_templates.dismiss(candidate_id):
        raise HTTPException(404, f"no template candidate {candidate_id}")
    return ChangedOut(done=f"candidate {candidate_id} dismissed")


@router.post("/candidates/{candidate_id}/not-person")
def api_candidate_not_person(candidate_id: int, ctx: Ctx, principal: Admin) -> ChangedOut:
    """A grant that was someone else: its face is never granted as that person again."""
    try:
        person_id = ctx.acting(principal).door_templates.not_this_person(candidate_id)
    except KeyError as exc:
        raise HTTPException(404, f"no template candidate {candidate_id}") from exc
    return ChangedOut(done=f"candidate {candidate_id} kept as not {person_id}")
