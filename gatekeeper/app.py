"""Composition root: builds the product's parts from one ``Settings``, each only when needed.

The face pipeline (torch, MTCNN) and the gallery (faiss) are imported inside the properties that
build them, not at the top: database-only commands (`people`, `audit`, `config`) must start in
well under two seconds on a door box, and those imports alone take several.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.config import Settings
from gatekeeper.services.audit import AuditLog, os_user
from gatekeeper.storage.database import check_template_key, open_database
from gatekeeper.storage.keys import audit_key
from gatekeeper.storage.templates import TemplateCodec

if TYPE_CHECKING:
    from gatekeeper.core import DoorPolicy
    from gatekeeper.door.actuate import DoorActuator
    from gatekeeper.door.daemon import DoorDaemon
    from gatekeeper.match.gallery import GalleryIndex
    from gatekeeper.services.access import AccessAdmin
    from gatekeeper.services.door_templates import DoorTemplates
    from gatekeeper.services.enrollment import Enrollment
    from gatekeeper.services.privacy import ForgetReport
    from gatekeeper.services.review import ReviewQueue
    from gatekeeper.match.thresholds import DecisionThresholds
    from gatekeeper.vision.encoder import FaceEncoder
    from gatekeeper.vision.pipeline import FacePipeline


class App:
    def __init__(self, settings: Settings | None = None, encoder: FaceEncoder | None = None, create_database: bool = True, actor: str | None = None) -> None:
        self.settings = settings or Settings()
        self.actor = actor or os_user()  # whom admin rows of the audit log name
        self._encoder = encoder
        self._create_database = create_database

    def allow_creating_database(self) -> None:
        """Let the first use create the database. Only enrollment and `gatekeeper init` do: any
        other command pointed at a wrong path must say so, not start an empty installation."""
        self._create_database = True

    def acting_as(self, actor: str) -> "App":
        """The same installation, sharing what is already built (database engine, models, keys),
        whose admin rows name ``actor`` (a console user) instead."""
        other = App(self.settings, self._encoder, self._create_database, actor)
        for part in ("sessions", "codec", "pipeline", "thresholds", "audit"):
            if part in self.__dict__:  # what cached_property has built so far
                other.__dict__[part] = self.__dict__[part]
        return other

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return open_database(self.settings.resolved_database_url, create=self._create_database)

    @cached_property
    def codec(self) -> TemplateCodec:
        """The template codec, checked against the database before anything uses it: a wrong or
        missing key is refused here, before a single row or file is written with it."""
        codec = TemplateCodec.from_settings(_secret(self.settings.template_key), self.settings.template_key_file)
        check_template_key(self.sessions, codec)
        return codec

    @cached_property
    def pipeline(self) -> FacePipeline:
        from gatekeeper.vision.pipeline import FacePipeline

        return FacePipeline(self.settings, encoder=self._encoder)

    @cached_property
    def thresholds(self) -> DecisionThresholds:
        from gatekeeper.match.thresholds import DecisionThresholds

        embedder = self.pipeline.door_embedder
        return DecisionThresholds.resolve(self.settings, embedder.card, embedder.similarity_shift)

    @cached_property
    def enrollment(self) -> Enrollment:
        from gatekeeper.services.enrollment import Enrollment

        return Enrollment(self.settings, self.sessions, self.codec, self.pipeline, self.thresholds, self.audit, self.actor)

    @cached_property
    def access(self) -> AccessAdmin:
        """Doors, schedules, groups, validity, lockdown: the access policy's one writer."""
        from gatekeeper.services.access import AccessAdmin

        return AccessAdmin(self.sessions, self.audit, self.actor, self.settings.timezone)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.sessions, audit_key(_secret(self.settings.audit_key), self.settings.audit_key_file, self.settings.data_dir / "audit.key"), self.settings.snapshot_dir)

    def gallery(self) -> GalleryIndex:
        return self.enrollment.gallery()

    def door_policy(self, gallery_size: int) -> DoorPolicy:
        """The door's per-frame rules as a door with ``gallery_size`` people enrolled applies them,
        for judging photos as the door would."""
        from gatekeeper.core import DoorPolicy

        return DoorPolicy(self.thresholds.for_gallery(gallery_size).rules(self.settings.cooldown_s))

    def forget(self, person_id: str, anonymise: bool = False, reason: str = "person removed") -> ForgetReport:
        from gatekeeper.services.privacy import forget_person

        return forget_person(self.enrollment, self.audit, person_id, anonymise, reason)

    def daemon(self, actuator: DoorActuator | None = None, clock: Callable[[], datetime] | None = None) -> DoorDaemon:
        from gatekeeper.door.actuate import make_actuator
        from gatekeeper.door.daemon import DoorDaemon

        from gatekeeper.door.events import decision_events

        templates = self.door_templates if self.settings.door_templates != "off" else None
        review = self.review if self.settings.review_captures else None
        return DoorDaemon(self.settings, self.sessions, self.codec, self.pipeline, self.thresholds, actuator or make_actuator(self.settings), self.audit, clock,
                          decision_events(self.settings, lambda event: self.audit.snapshot_jpeg(event, self.codec)), templates, review)

    @cached_property
    def review(self) -> ReviewQueue:
        """Refused door faces for an admin to assign, dismiss or mark as not a person."""
        from gatekeeper.services.review import ReviewQueue

        return ReviewQueue(self.sessions, self.codec, self.enrollment, self.audit, self.actor, self.settings.review_retention_days)

    @cached_property
    def door_templates(self) -> DoorTemplates:
        """Door frames of confident grants, offered as template photos (and accepted or dismissed)."""
        from gatekeeper.services.door_templates import DoorTemplates

        return DoorTemplates(self.sessions, self.codec, self.enrollment, self.audit, self.actor, self.settings.door_templates_cap)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
