"""Slow work a door does beside deciding (MQTT messages with a face snapshot, the heartbeat row,
deleting expired snapshots), run on one background thread behind a bounded queue.

The frame loop only hands a job over and goes on: a broker that is away, a database that is slow
to take the heartbeat or a folder of thousands of old snapshots never delays the next frame. When
jobs arrive faster than they finish, the oldest waiting one is dropped (and counted): the newest
heartbeat and the latest decisions are the ones worth sending. What keeps the door safe stays in
the loop: the audit row is written before the unlock, and the unlock itself, synchronously.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class SideWork:
    def __init__(self, name: str, limit: int = 64, on_drop: Callable[[], None] | None = None) -> None:
        self.name = name
        self.dropped = 0
        self._jobs: deque[Job] = deque()
        self._limit = limit
        self._on_drop = on_drop
        self._wake = threading.Condition()
        self._closing = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Queue ``job``; never blocks. A full queue loses its oldest job, not this one."""
        with self._wake:
            if self._closing:
                return
            if len(self._jobs) >= self._limit:
                self._jobs.popleft()
                self.dropped += 1
                if self._on_drop is not None:
                    self._on_drop()
            self._jobs.append(job)
            self._wake.notify()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every queued job has run (tests, and a door stopping); False on timeout."""
        with self._wake:
            return self._wake.wait_for(lambda: not self._jobs and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Run what is queued (up to ``timeout``), then stop the thread."""
        self.drain(timeout)
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._jobs or self._closing)
                if not self._jobs:
                    return
                job = self._jobs.popleft()
                self._busy = True
            try:
                job()
            except Exception:  # a side job's trouble is never the door's
                log.exception("%s: a background job failed", self.name)
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()
