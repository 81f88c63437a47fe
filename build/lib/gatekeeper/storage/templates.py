"""Embeddings at rest: float32 bytes, optionally encrypted with Fernet (AES-128-CBC + HMAC)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from cryptography.fernet import Fernet, InvalidToken

KEY_ENV = "GATEKEEPER_TEMPLATE_KEY"
_PLAIN = b"GKv1"  # prefixes distinguish plain from encrypted blobs, so a missing key is noticed
_SEALED = b"GKe1"


class TemplateKeyError(RuntimeError):
    """Encrypted templates without a key, or with the wrong one."""


class TemplateCodec:
    def __init__(self, key: bytes | None = None) -> None:
        self._fernet = Fernet(key) if key else None

    @classmethod
    def from_settings(cls, key_file: Path | None) -> "TemplateCodec":
        key = os.environ.get(KEY_ENV, "").encode() or None
        if key_file is not None:
            try:
                key = key_file.read_bytes().strip()
            except OSError as exc:
                raise TemplateKeyError(f"{key_file}: cannot read template key ({exc})") from exc
        try:
            return cls(key)
        except ValueError as exc:
            raise TemplateKeyError(f"template key is not a valid Fernet key ({exc})") from exc

    @property
    def encrypting(self) -> bool:
        return self._fernet is not None

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
