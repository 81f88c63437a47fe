"""Faces an admin marked as *not* a given person (the review queue's "not this person").

A door face is taken as person P only if it is nearer to P's template than to every face known
not to be P: a lookalike who was refused or wrongly let in once is recognised as themselves
next time, even after P's template or the threshold moves. When the face's best match is
screened out this way the face is treated as unknown (never handed to the runner-up), so the
rule can only refuse, never grant.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.types import Candidate
from gatekeeper.storage.models import NegativeFace
from gatekeeper.storage.templates import TemplateCodec


class Negatives:
    def __init__(self, faces: dict[str, np.ndarray]) -> None:
        self._faces = faces  # person id -> (n, d) unit vectors known not to be them

    def __len__(self) -> int:
        return sum(len(v) for v in self._faces.values())

    def screen(self, candidates: list[Candidate], query: np.ndarray) -> list[Candidate]:
        """The candidates as the door should see them: none when the best one is screened out."""
        if not candidates or candidates[0].person_id not in self._faces:
            return candidates
        nearest_negative = float(np.max(self._faces[candidates[0].person_id] @ query))
        return [] if nearest_negative >= candidates[0].similarity else candidates

    def is_not(self, person_id: str, query: np.ndarray, similarity: float) -> bool:
        """Whether a face with ``similarity`` to the person is nearer to one of their negatives (1:1)."""
        faces = self._faces.get(person_id)
        return faces is not None and float(np.max(faces @ query)) >= similarity


def load_negatives(sessions: sessionmaker[Session], codec: TemplateCodec, model_version: str) -> Negatives:
    """Every negative embedded by the door's model (others wait for `gatekeeper migrate`)."""
    faces: dict[str, list[np.ndarray]] = {}
    with sessions() as session:
        for person_id, blob in session.execute(select(NegativeFace.person_id, NegativeFace.embedding).where(NegativeFace.model_version == model_version)):
            faces.setdefault(person_id, []).append(codec.decode(blob))
    return Negatives({p: np.stack(v).astype(np.float32) for p, v in faces.items()})
