"""Two admins enrolling at the same moment, from two processes, into one database (SQLite and
PostgreSQL): nobody's enrollment is lost and the index agrees with the database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from gatekeeper.app import App
from gatekeeper.config import Settings
from gatekeeper.services.audit import AuditFilter
from gatekeeper.storage.models import Person
from tests.conftest import lfw_people

REPO = Path(__file__).resolve().parents[1]
AUDIT_KEY = "ab" * 32


def _folder(root: Path, people: list[tuple[str, list[Path]]]) -> Path:
    for name, photos in people:
        (root / name).mkdir(parents=True)
        for p in photos[:2]:
            (root / name / p.name).write_bytes(p.read_bytes())
    return root


def test_simultaneous_enrollments_lose_nothing(lfw: Path, tmp_path: Path, db_url: str, encoder) -> None:  # type: ignore[no-untyped-def]
    people = lfw_people(lfw, 8, 2, skip=600)
    folders = [_folder(tmp_path / "admin-a", people[0::2]), _folder(tmp_path / "admin-b", people[1::2])]
    os.environ["GATEKEEPER_AUDIT_KEY"] = AUDIT_KEY  # this process too (restored below)
    App(Settings(database_url=db_url, data_dir=tmp_path / "data")).sessions  # the schema exists first
    runs = []
    for i, folder in enumerate(folders):
        # Two admin machines on one database share its audit key: their enrollments are rows of one chain.
        env = {**os.environ, "GATEKEEPER_DATABASE_URL": db_url, "GATEKEEPER_DATA_DIR": str(tmp_path / f"data-{i}"), "GATEKEEPER_THREADS": "1", "GATEKEEPER_ENROLL_WORKERS": "1", "GATEKEEPER_AUDIT_KEY": AUDIT_KEY}
        runs.append(subprocess.Popen([sys.executable, "-m", "gatekeeper", "enroll", str(folder), "--force"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [r.communicate(timeout=300)[0] for r in runs]
    for run, out in zip(runs, outputs):
        assert run.returncode in (0, 1), out  # 1 = some photo rejected, never a crash
        assert "Traceback" not in out, out
    gk = App(Settings(database_url=db_url, data_dir=tmp_path / "data"), encoder=encoder)
    with gk.sessions() as s:
        enrolled = s.execute(select(Person.person_id, Person.vector_id)).all()
    expected = {name for out, half in zip(outputs, (people[0::2], people[1::2])) for name, _ in half if f"{name}" in out}
    assert {p for p, _ in enrolled} == expected and len(expected) >= 6
    assert len({v for _, v in enrolled}) == len(enrolled)  # vector ids unique
    assert set(gk.gallery().people.values()) == expected
    assert {r.person_id for r in gk.audit.query(AuditFilter(decision="enrolled"))} == expected and gk.audit.verify() == []
    del os.environ["GATEKEEPER_AUDIT_KEY"]
