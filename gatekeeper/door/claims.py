"""Card + face: a badge names who claims to be at the door; the face is then checked against that
one person (1:1), as commercial terminals do at large sites.

A reader's badge numbers arrive as lines (a serial or keyboard-wedge reader's device, a FIFO fed
by one, or a file in replays) on a thread of their own, and wait in a queue until the frame loop
takes them, stamped with the loop's clock, so replays stay repeatable. A claim lasts
``claim_ttl_s``; one decision (a grant or a mismatch) uses it up.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.core.policy import TrackVotes

log = logging.getLogger(__name__)


@dataclass
class Claim:
    """One presented badge: who it names, when it came, and the 1:1 votes of each face track."""

    badge: str
    person_id: str
    at: float  # the frame loop's clock
    votes: dict[int, TrackVotes] = field(default_factory=dict)

    def track(self, track_id: int) -> TrackVotes:
        return self.votes.setdefault(track_id, TrackVotes())


class BadgeQueue:
    """Badge numbers waiting for the frame loop; bounded, dropping the oldest (a reader stuck
    repeating must not grow memory), thread-safe."""

    def __init__(self, size: int = 16) -> None:
        self._queue: queue.Queue[str] = queue.Queue(maxsize=size)

    def put(self, badge: str) -> None:
        while True:
            try:
                self._queue.put_nowait(badge)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass

    def drain(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out


class BadgeReader(threading.Thread):
    """Reads one badge number per line from ``path`` until stopped or the file ends (a FIFO is
    reopened when its writer goes away: readers reconnect)."""

    def __init__(self, path: Path, badges: BadgeQueue, stop: threading.Event) -> None:
        super().__init__(name="gatekeeper-badges", daemon=True)
        self.path, self.badges, self.stop = path, badges, stop

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with open(self.path, "r", encoding="ascii", errors="replace") as lines:
                    for line in lines:
                        if self.stop.is_set():
                            return
                        if line.strip():
                            self.badges.put(line.strip()[:80])
            except OSError as exc:
                log.error("badge reader %s: %s", self.path, exc)
                self.stop.wait(1.0)
                continue
            if not self.path.is_fifo():
                return  # a plain file read to its end (a replay): nothing more will come
