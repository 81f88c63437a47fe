"""Who is in this photo, judged exactly as the door judges one frame.

The same stages (door quality gate, door embedding, top-2 search) and the same rule (match
threshold and margin over the runner-up, ``DoorPolicy.frame_vote``), so "verify says match" means
"this face, at the door, votes for this person". The door then also needs the same person in N of
M frames of a visit; a photo is one frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gatekeeper.core import Candidate, DoorPolicy, Vote, VoteKind
from gatekeeper.gallery import GalleryIndex
from gatekeeper.pipeline import FacePipeline


@dataclass(frozen=True)
class FaceJudgement:
    vote: Vote
    candidates: list[Candidate]  # best first, up to ``top``
    problems: list[str]  # why the face is not usable (empty when it is)
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the photo's pixels

    @property
    def verdict(self) -> str:
        return {VoteKind.PERSON: "match", VoteKind.UNKNOWN: "no match", VoteKind.AMBIGUOUS: "ambiguous", VoteKind.LOW_QUALITY: "not usable"}[self.vote.kind]


def judge_photo(pipeline: FacePipeline, gallery: GalleryIndex, policy: DoorPolicy, image_rgb: np.ndarray, top: int = 3) -> list[FaceJudgement]:
    """Every face in the photo, largest first, with the door's vote and the top candidates."""
    out = []
    for face in pipeline.analyse_photo(image_rgb):
        candidates = gallery.search(face.embedding[None], k=max(top, 2))[0] if face.embedding is not None else []
        box = tuple(float(v) for v in face.detection.box)
        out.append(FaceJudgement(policy.frame_vote(candidates, face.usable), candidates[:top], face.problems, box))  # type: ignore[arg-type]
    return out
