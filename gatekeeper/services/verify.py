"""Who is in this photo, judged exactly as the door judges one frame.

The same stages (door quality gate, door embedding, top-2 search) and the same rule (match
threshold and margin over the runner-up, ``DoorPolicy.frame_vote``), so "verify says match" means
"this face, at the door, votes for this person". The door then also needs the same person in N of
M frames of a visit; a photo is one frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from gatekeeper.core import Candidate, DoorPolicy, Vote, VoteKind
from gatekeeper.match.gallery import GalleryIndex
from gatekeeper.vision.images import ImageError, read_rgb
from gatekeeper.vision.pipeline import FacePipeline


@dataclass(frozen=True)
class FaceJudgement:
    vote: Vote
    candidates: list[Candidate]  # best first, up to ``top``
    problems: list[str]  # why the face is not usable (empty when it is)
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the photo's pixels
    liveness: float | None = None  # the passive live score (None: liveness off, or face not usable)

    @property
    def verdict(self) -> str:
        return {VoteKind.PERSON: "match", VoteKind.UNKNOWN: "no match", VoteKind.AMBIGUOUS: "ambiguous", VoteKind.LOW_QUALITY: "not usable"}[self.vote.kind]


def judge_photo(pipeline: FacePipeline, gallery: GalleryIndex, policy: DoorPolicy, image_rgb: np.ndarray, top: int = 3) -> list[FaceJudgement]:
    """Every face in the photo, largest first, with the door's vote and the top candidates."""
    out = []
    for face in pipeline.analyse_photo(image_rgb):
        candidates = gallery.search(face.embedding[None], k=max(top, 2))[0] if face.embedding is not None else []
        box = tuple(float(v) for v in face.detection.box)
        out.append(FaceJudgement(policy.frame_vote(candidates, face.usable), candidates[:top], face.problems, box, face.liveness))  # type: ignore[arg-type]
    return out


@dataclass(frozen=True)
class PhotoVerdict:
    photo: str
    faces: list[FaceJudgement] = field(default_factory=list)
    error: str | None = None  # why the photo could not be read

    @property
    def judged(self) -> bool:
        """At least one face in it was usable, so the door would have decided something."""
        return any(not f.problems for f in self.faces)


def photos_in(paths: Iterable[Path]) -> list[Path]:
    """The files given, and the visible files directly inside each folder given, in name order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            out.append(path)
    return out


def verify_photos(pipeline: FacePipeline, gallery: GalleryIndex, policy: DoorPolicy, paths: Iterable[Path], top: int = 3) -> list[PhotoVerdict]:
    """Each photo judged as the door would judge it; an unreadable one carries its reason."""
    out = []
    for path in photos_in(paths):
        try:
            image = read_rgb(path)
        except ImageError as exc:
            out.append(PhotoVerdict(str(path), error=exc.reason))
            continue
        faces = judge_photo(pipeline, gallery, policy, image, top)
        out.append(PhotoVerdict(str(path), faces, None if faces else "no face found"))
    return out


@dataclass(frozen=True)
class ClaimCheck:
    """One photo judged as a card + face door judges its visitor: the largest usable face
    against the claimed person's template alone (1:1)."""

    photo: str
    similarity: float | None  # None: no usable face (``reason`` says why)
    matches: bool
    reason: str | None = None


def check_claim(pipeline: FacePipeline, gallery: GalleryIndex, threshold: float, person_id: str, paths: Iterable[Path]) -> list[ClaimCheck]:
    """Each photo against ``person_id`` at the 1:1 ``threshold``; ``KeyError`` when nobody with
    that id is enrolled."""
    if not any(pid == person_id for pid in gallery.people.values()):
        raise KeyError(person_id)
    out = []
    for path in photos_in(paths):
        try:
            faces = [f for f in pipeline.analyse_photo(read_rgb(path)) if f.embedding is not None]
        except ImageError as exc:
            out.append(ClaimCheck(str(path), None, False, exc.reason))
            continue
        if not faces:
            out.append(ClaimCheck(str(path), None, False, "no face usable at the door"))
            continue
        similarity = gallery.similarity_to(person_id, faces[0].embedding)
        out.append(ClaimCheck(str(path), similarity, similarity is not None and similarity >= threshold))
    return out


class CandidateOut(BaseModel):
    person_id: str
    name: str | None = None
    similarity: float


class FaceVerdictOut(BaseModel):
    """One face of a verified photo, as every caller shows it (CLI JSON, REST API)."""

    verdict: str  # match, no match, ambiguous, not usable
    person_id: str | None
    name: str | None = None
    problems: list[str]
    box: list[float]  # x1, y1, x2, y2 in the photo's pixels
    liveness: float | None  # the passive live score
    live: bool | None = None  # whether it reaches the door's liveness threshold
    candidates: list[CandidateOut]

    @classmethod
    def of(cls, face: FaceJudgement, names: Mapping[str, str] | None = None, live_threshold: float | None = None, scores_for_non_matches: bool = True) -> "FaceVerdictOut":
        """``scores_for_non_matches`` False: a face that matches nobody comes back without
        candidates (the REST API's rule: a stranger's nearest enrolled people are not shown)."""
        names = names or {}
        shown = face.candidates if scores_for_non_matches or face.verdict == "match" else []
        return cls(verdict=face.verdict, person_id=face.vote.person_id, name=names.get(face.vote.person_id) if face.vote.person_id else None,
                   problems=face.problems, box=[round(v, 1) for v in face.box], liveness=None if face.liveness is None else round(face.liveness, 4),
                   live=None if face.liveness is None or live_threshold is None else face.liveness >= live_threshold,
                   candidates=[CandidateOut(person_id=c.person_id, name=names.get(c.person_id), similarity=round(c.similarity, 4)) for c in shown])
