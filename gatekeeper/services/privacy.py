"""Forgetting a person: their templates, the snapshots of their face, and on request their name
in the audit log. The decisions themselves stay in the log (the access history of the door)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.identifiers import clean_text
from gatekeeper.services.audit import AuditLog
from gatekeeper.services.enrollment import Enrollment
from gatekeeper.storage.models import DoorCapture

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForgetReport:
    removed: bool  # the person was enrolled and their vectors are gone
    snapshots_deleted: int
    audit_rows_anonymised: int = 0
    audit_rows_left_named: int = 0  # rows from before schema revision 0002 (see audit.Anonymisation)
    snapshot_failures: list[str] = field(default_factory=list)  # "path: reason" for files that stay


def delete_snapshots(paths: Iterable[str], audit: AuditLog | None = None) -> tuple[int, list[str]]:
    """Delete snapshot files; returns how many went and "path: reason" for each that could not.
    With ``audit``, only files inside its snapshot folder are touched."""
    deleted, failures = 0, []
    for path in sorted(set(paths)):
        if audit is not None and not audit.owns_snapshot(path):
            log.error("audit row names %s as a snapshot, outside the snapshot folder: not deleted", path)
            failures.append(f"{path}: outside the snapshot folder, not deleted (row edited?)")
            continue
        try:
            Path(path).unlink()
            deleted += 1
        except FileNotFoundError:
            continue  # already gone: the goal is reached
        except OSError as exc:
            log.error("could not delete snapshot %s: %s", path, exc)
            failures.append(f"{path}: {exc.strerror or exc}")
    return deleted, failures


MAX_REASON = 200  # a request number and a few words


def anonymise_person(audit: AuditLog, person_id: str, reason: str, actor: str | None = None) -> ForgetReport:
    """Clear the person from their audit rows and delete the snapshots those rows pointed at.

    Files go first: a crash part-way then leaves rows pointing at deleted files, never a face
    image that no row points to any more."""
    reason = clean_text(reason, "anonymisation reason", MAX_REASON)
    forget_captures(audit.sessions, person_id)
    deleted, failures = delete_snapshots(audit.snapshots_naming(person_id), audit)
    result = audit.anonymise(person_id, reason, actor)
    late, late_failures = delete_snapshots(result.snapshots, audit)  # written by a door meanwhile
    return ForgetReport(False, deleted + late, result.rows, result.legacy_rows, failures + late_failures)


def forget_captures(sessions: sessionmaker[Session], person_id: str) -> int:
    """Review-queue captures whose nearest enrolled person this is: they name them, so they go."""
    with sessions.begin() as session:
        return int(session.execute(delete(DoorCapture).where(DoorCapture.nearest_id == person_id)).rowcount or 0)


def forget_person(enrollment: Enrollment, audit: AuditLog, person_id: str, anonymise: bool = False, reason: str = "person removed") -> ForgetReport:
    """Remove the person's vectors and snapshots; with ``anonymise`` also their name in the log."""
    removed = enrollment.remove(person_id)
    forget_captures(enrollment.sessions, person_id)
    if anonymise:
        return replace(anonymise_person(audit, person_id, reason, enrollment.actor), removed=removed)
    deleted, failures = delete_snapshots(audit.snapshots_of(person_id), audit)
    return ForgetReport(removed, deleted, snapshot_failures=failures)


def purge_audit(audit: AuditLog, older_than: datetime, actor: str | None = None) -> tuple[int, int, list[str]]:
    """Retention: delete old rows and their snapshots, files first (as for anonymisation).
    Returns rows purged, snapshots deleted, and "path: reason" for files that stay."""
    deleted, failures = delete_snapshots(audit.snapshots_older_than(older_than), audit)
    rows, snapshots = audit.purge(older_than, actor)  # may reach past the cut-off: a contiguous prefix
    late, late_failures = delete_snapshots(snapshots, audit)
    return rows, deleted + late, failures + late_failures
