"""One error root (#12): every deliberate refusal is a GatekeeperError the CLI turns into a clear
one-line message and exit 2, and keeps its builtin base for callers that catch those."""

from __future__ import annotations

import pytest

from gatekeeper.door.actuate import ActuatorError
from gatekeeper.storage.audit_chain import AuditTamperError
from gatekeeper.door.camera import CameraError
from gatekeeper.vision.encoder import ModelFileError
from gatekeeper.vision.encoders.dlib_dat import DlibFormatError
from gatekeeper.errors import GatekeeperError
from gatekeeper.match.gallery import GalleryModelMismatch
from gatekeeper.core.identifiers import InvalidIdentifier
from gatekeeper.vision.images import ImageError
from gatekeeper.vision.pipeline import FaceError
from gatekeeper.storage.database import DatabaseError
from gatekeeper.storage.keys import AuditKeyError
from gatekeeper.storage.templates import TemplateKeyError


@pytest.mark.parametrize(("cls", "builtin"), [
    (InvalidIdentifier, ValueError), (ImageError, ValueError), (GalleryModelMismatch, ValueError), (DlibFormatError, ValueError),
    (FaceError, ValueError), (CameraError, RuntimeError), (ActuatorError, RuntimeError), (DatabaseError, RuntimeError),
    (TemplateKeyError, RuntimeError), (AuditKeyError, RuntimeError), (ModelFileError, RuntimeError), (AuditTamperError, RuntimeError),
])
def test_every_refusal_shares_one_root(cls: type, builtin: type) -> None:
    assert issubclass(cls, GatekeeperError) and issubclass(cls, builtin)


def test_the_cli_maps_a_refusal_to_exit_2_with_one_line(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    env = {"GATEKEEPER_DATA_DIR": str(tmp_path / "nowhere"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "gatekeeper", "run", "--source", str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
