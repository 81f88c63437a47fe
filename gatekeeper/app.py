"""Composition root: builds the product's parts from one ``Settings``, each only when needed."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.actuate import DoorActuator, make_actuator
from gatekeeper.audit import AuditLog
from gatekeeper.config import Settings
from gatekeeper.daemon import DoorDaemon
from gatekeeper.encoder import FaceEncoder
from gatekeeper.enrollment import Enrollment
from gatekeeper.gallery import GalleryIndex
from gatekeeper.pipeline import FacePipeline
from gatekeeper.privacy import ForgetReport, forget_person
from gatekeeper.storage.database import check_template_key, open_database
from gatekeeper.storage.keys import audit_key
from gatekeeper.storage.templates import TemplateCodec
from gatekeeper.thresholds import DecisionThresholds


class App:
    def __init__(self, settings: Settings | None = None, encoder: FaceEncoder | None = None, create_database: bool = True) -> None:
        self.settings = settings or Settings()
        self._encoder = encoder
        self._create_database = create_database

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return open_database(self.settings.resolved_database_url, create=self._create_database)

    @cached_property
    def codec(self) -> TemplateCodec:
        """The template codec, checked against the database before anything uses it: a wrong or
        missing key is refused here, before a single row or file is written with it."""
        codec = TemplateCodec.from_settings(self.settings.template_key_file)
        check_template_key(self.sessions, codec)
        return codec

    @cached_property
    def pipeline(self) -> FacePipeline:
        return FacePipeline(self.settings, encoder=self._encoder)

    @cached_property
    def thresholds(self) -> DecisionThresholds:
        return DecisionThresholds.resolve(self.settings, self.pipeline.encoder.card)

    @cached_property
    def enrollment(self) -> Enrollment:
        return Enrollment(self.settings, self.sessions, self.codec, self.pipeline, self.thresholds)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.sessions, audit_key(self.settings.audit_key_file, self.settings.data_dir / "audit.key"), self.settings.snapshot_dir)

    def gallery(self) -> GalleryIndex:
        return self.enrollment.gallery()

    def forget(self, person_id: str, anonymise: bool = False, reason: str = "person removed") -> ForgetReport:
        return forget_person(self.enrollment, self.audit, person_id, anonymise, reason)

    def daemon(self, actuator: DoorActuator | None = None) -> DoorDaemon:
        return DoorDaemon(self.settings, self.sessions, self.codec, self.pipeline, self.thresholds, actuator or make_actuator(self.settings), self.audit)
