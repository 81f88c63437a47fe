"""Photos a lookalike refusal left embedded, kept a few minutes for the console user who uploaded
them, so "Enroll anyway" is one click: no second upload, no second embedding. In memory only
(embeddings and face crops of a person who is not enrolled do not go to disk), bounded, and
each entry is taken once, by the same user."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the console starts without the face stack; photos arrive already embedded
    from gatekeeper.services.enrollment import PhotoResult

TTL_S = 600.0
LIMIT = 32


@dataclass(frozen=True)
class PendingEnrollment:
    owner: str  # the console user who uploaded the photos
    person_id: str
    name: str | None
    photos: list[PhotoResult]
    extend: bool  # photos for someone enrolled (their page), not a new person
    at: float


class PendingEnrollments:
    def __init__(self, ttl_s: float = TTL_S, limit: int = LIMIT) -> None:
        self._ttl_s, self._limit = ttl_s, limit
        self._kept: OrderedDict[str, PendingEnrollment] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, owner: str, person_id: str, name: str | None, photos: list[PhotoResult], extend: bool) -> str:
        """A one-use token for these photos; the oldest entry goes when the store is full."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            while len(self._kept) >= self._limit:
                self._kept.popitem(last=False)
            self._kept[token] = PendingEnrollment(owner, person_id, name, photos, extend, time.monotonic())
        return token

    def take(self, owner: str, token: str) -> PendingEnrollment | None:
        """The photos kept under ``token`` for ``owner``, removed from the store; None when they
        expired, were taken already, or were kept for someone else."""
        with self._lock:
            self._expire()
            found = self._kept.get(token)
            if found is None or found.owner != owner:
                return None
            del self._kept[token]
            return found

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, p in self._kept.items() if now - p.at > self._ttl_s]:
            del self._kept[token]
