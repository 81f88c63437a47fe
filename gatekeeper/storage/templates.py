"""Embeddings at rest: float32 bytes, optionally encrypted with Fernet (AES-128-CBC + HMAC)."""

from __future__ import annotations

from pathlib import Path

import base64
import logging
import stat

import numpy as np
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gatekeeper.errors import EnvironmentFault

log = logging.getLogger(__name__)

KEY_ENV = "GATEKEEPER_TEMPLATE_KEY"
_PLAIN = b"GKv1"  # prefixes distinguish plain from encrypted blobs, so a missing key is noticed
_SEALED = b"GKe1"


class TemplateKeyError(EnvironmentFault):
    """Encrypted templates without a key, or with the wrong one."""


class IndexSeal:
    """Seals a gallery index file (Fernet: AES-128-CBC + HMAC-SHA256): opening a file sealed with
    another key, or forged, or altered by one bit, raises."""

    _TAG = b"GKix1"

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, raw: bytes) -> bytes:
        return self._TAG + self._fernet.encrypt(raw)

    def open(self, blob: bytes) -> bytes:
        if not blob.startswith(self._TAG):
            raise ValueError("not a sealed gatekeeper index (an older or foreign file)")
        try:
            return self._fernet.decrypt(blob[len(self._TAG) :])
        except InvalidToken:
            raise ValueError("index seal does not verify (written with another key, or altered)") from None


def derive_key(key: bytes, purpose: str) -> bytes:
    """A Fernet key for one purpose, derived from the template key (HKDF-SHA256), so one secret
    protects templates, the index file and the audit chain without reusing a key for two jobs."""
    raw = HKDF(hashes.SHA256(), 32, salt=None, info=f"gatekeeper {purpose}".encode()).derive(key)
    return base64.urlsafe_b64encode(raw)


def warn_if_readable_by_others(path: Path, what: str) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s %s is readable by group or others (mode %o): chmod 600 it", what, path, stat.S_IMODE(mode))


class TemplateCodec:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or None
        self._fernet = Fernet(key) if key else None

    @classmethod
    def from_settings(cls, key_text: str | None, key_file: Path | None) -> "TemplateCodec":
        """The codec for the ``template_key`` setting or, when set, the ``template_key_file``."""
        key = (key_text or "").strip().encode() or None
        if key_file is not None:
            try:
                key = key_file.read_bytes().strip()
            except OSError as exc:
                raise TemplateKeyError(f"{key_file}: cannot read template key ({exc})") from exc
            warn_if_readable_by_others(key_file, "template key file")
        try:
            return cls(key)
        except ValueError as exc:
            raise TemplateKeyError(f"template key is not a valid Fernet key ({exc})") from exc

    @property
    def encrypting(self) -> bool:
        return self._fernet is not None

    def index_seal(self) -> IndexSeal | None:
        """The index file's seal derived from the template key; None without a key."""
        return IndexSeal(derive_key(self._key, "gallery index")) if self._key else None

    def derived_key(self, purpose: str) -> bytes | None:
        return derive_key(self._key, purpose) if self._key else None

    def encode(self, vector: np.ndarray) -> bytes:
        return self.seal(np.asarray(vector, dtype=np.float32).tobytes())

    def decode(self, blob: bytes) -> np.ndarray:
        return np.frombuffer(self.unseal(blob), dtype=np.float32).copy()

    def seal(self, raw: bytes) -> bytes:
        """Any biometric bytes (an embedding, an aligned face crop) as they are stored."""
        return _SEALED + self._fernet.encrypt(raw) if self._fernet else _PLAIN + raw

    def unseal(self, blob: bytes) -> bytes:
        tag, body = blob[:4], blob[4:]
        if tag == _PLAIN:
            return body
        if tag != _SEALED:
            raise TemplateKeyError("unrecognised template encoding")
        if self._fernet is None:
            raise TemplateKeyError(f"templates are encrypted: set {KEY_ENV} or template_key_file")
        try:
            return self._fernet.decrypt(body)
        except InvalidToken:
            raise TemplateKeyError("wrong template key: stored embeddings cannot be decrypted") from None
