"""Secret keys kept outside the database: the audit chain's HMAC key.

The audit chain is keyed so that someone who can write the database but cannot read this key
cannot recompute it. The key comes from ``GATEKEEPER_AUDIT_KEY`` (hex or base64 text), or the
``audit_key_file`` setting, or else a 32-byte key created once at ``<data_dir>/audit.key``
(mode 0600). Keep that file, or better a copy of the exported checkpoints, away from the database.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from pathlib import Path

from gatekeeper.storage.files import create_private_once
from gatekeeper.storage.templates import warn_if_readable_by_others
from gatekeeper.errors import EnvironmentFault

AUDIT_KEY_ENV = "GATEKEEPER_AUDIT_KEY"
MIN_KEY_BYTES = 16


class AuditKeyError(EnvironmentFault):
    """The audit key is missing, unreadable or too short."""


def audit_key(key_text: str | None, key_file: Path | None, default_file: Path) -> bytes:
    """The ``audit_key`` setting, else the key file (created once at ``default_file`` when no file
    is named)."""
    text = (key_text or "").strip()
    if text:
        return _decode(text, AUDIT_KEY_ENV)
    path = key_file or default_file
    if key_file is None and not path.exists():
        try:
            create_private_once(path, secrets.token_hex(32).encode())
        except OSError as exc:
            raise AuditKeyError(f"{path}: cannot create the audit key ({exc.strerror or exc}); set GATEKEEPER_AUDIT_KEY or audit_key_file") from exc
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise AuditKeyError(f"{path}: cannot read the audit key ({exc.strerror or exc})") from exc
    warn_if_readable_by_others(path, "audit key file")
    return _decode(text, str(path))


def _decode(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise AuditKeyError(f"{where}: the audit key must be hex or base64 text") from None
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(f"{where}: the audit key must be at least {MIN_KEY_BYTES} bytes")
    return key
