"""gatekeeper's public Python API: one screen, plain numpy in, plain values out.

    import gatekeeper
    door = gatekeeper.open("gatekeeper-data")            # a deployment: data dir (or a database URL)
    door.enroll("emp-0042", "Ada Lovelace", ["ada-1.jpg", "ada-2.jpg"])   # paths or RGB arrays
    for face in door.identify(frame_rgb):                # each face, judged as the door judges a frame
        print(face.verdict, face.person_id, face.similarity)
    door.remove("emp-0042")
    door.people()                                        # [Person(id, name, photos)]
    door.decisions(since=datetime(...), person_id="emp-0042")   # the audit log, as dicts

Nothing heavy is imported by ``import gatekeeper``: models load when a deployment first needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from gatekeeper.app import App
from gatekeeper.config import Settings
from gatekeeper.services.audit import AuditFilter, as_dict
from gatekeeper.services.people import list_people


@dataclass(frozen=True)
class Identification:
    verdict: str  # "match", "no match", "ambiguous", "not usable"
    person_id: str | None  # set for "match"
    similarity: float | None  # the best candidate's cosine similarity
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the image's pixels
    problems: tuple[str, ...]  # why the face is not usable (empty otherwise)
    liveness: float | None = None  # the passive live score (None when liveness is off or the face unusable)


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    photos: int


@dataclass(frozen=True)
class EnrollmentResult:
    enrolled: bool
    reason: str | None  # why not, when not
    rejected_photos: tuple[tuple[str, str], ...]  # (photo, reason) for each unusable photo


class Deployment:
    """One installation: its database, gallery, audit log and models (loaded on first use)."""

    def __init__(self, settings: Settings) -> None:
        self._app = App(settings, create_database=False)

    def enroll(self, person_id: str, name: str, photos: Sequence[str | Path | np.ndarray], extend: bool = False, force: bool = False) -> EnrollmentResult:
        """Enroll (or re-enroll) a person from photo paths or RGB uint8 arrays."""
        from gatekeeper.services.enrollment import embed_image  # the face stack loads on first use

        self._app.allow_creating_database()  # the first enrollment creates the deployment
        enrollment = self._app.enrollment
        results = [embed_image(enrollment.pipeline, p, f"image {i}") if isinstance(p, np.ndarray) else enrollment.embed_photo(Path(p)) for i, p in enumerate(photos)]
        outcome = enrollment.enroll(person_id, name, results, extend=extend, force=force)
        return EnrollmentResult(outcome.enrolled, outcome.reason, tuple((r.path, r.reason) for r in results if r.reason))

    def identify(self, image_rgb: np.ndarray) -> list[Identification]:
        """Every face in the image, largest first, with the door's vote for it."""
        from gatekeeper.services.verify import judge_photo  # the face stack loads on first use

        app = self._app
        gallery = app.gallery()
        return [
            Identification(j.verdict, j.vote.person_id, j.candidates[0].similarity if j.candidates else None, j.box, tuple(j.problems), j.liveness)
            for j in judge_photo(app.pipeline, gallery, app.door_policy(len(gallery)), image_rgb)
        ]

    def remove(self, person_id: str) -> bool:
        """Forget the person (vectors, photos, snapshots); False when nobody has this id."""
        return self._app.forget(person_id).removed

    def people(self) -> list[Person]:
        """Everyone enrolled, by id."""
        return [Person(p.person_id, p.name, p.photos) for p in list_people(self._app.sessions)]

    def decisions(self, since: datetime | None = None, until: datetime | None = None, person_id: str | None = None, decision: str | None = None, door_id: str | None = None) -> list[dict[str, object]]:
        """Audit rows matching every given filter, oldest first, as plain dicts."""
        return [as_dict(r) for r in self._app.audit.query(AuditFilter(since, until, person_id, decision, door_id))]

    def verify_log(self) -> list[str]:
        """Problems in the audit chain; empty when intact."""
        return self._app.audit.verify()


def open(data_dir: str | Path = "gatekeeper-data", database_url: str | None = None, **settings: object) -> Deployment:  # noqa: A001 - gatekeeper.open(...)
    """A deployment rooted at ``data_dir`` (created on first enrollment); any setting by name."""
    return Deployment(Settings(data_dir=Path(data_dir), database_url=database_url, **settings))  # type: ignore[arg-type]
