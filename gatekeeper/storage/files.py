"""Files gatekeeper writes beside its database: atomic, owner-only.

Biometric data (index, snapshots) and keys must not be readable by other users of the door box,
whatever umask the service was started with.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; an existing folder is left as it is
    (it may be the admin's choice, such as a shared mount)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically, owner-only: a unique temp file beside ``path``, then rename."""
    tmp = _temp_copy(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_private_once(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` (owner-only) unless it exists; False when another process got
    there first. Written whole to a temporary file, then hard-linked: readers never see half of
    it, and two processes creating a key at once end up using the same one."""
    tmp = _temp_copy(path, data)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _temp_copy(path: Path, data: bytes) -> Path:
    """``data`` in a new 0600 file with a unique name beside ``path``, flushed to disk."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)
