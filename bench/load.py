"""A CPU-bound neighbour for "under load" measurements: a door box also decodes video, serves a
console and ships logs. One pure-Python busy loop per requested core, killed on exit."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def busy_neighbour(processes: int = 1) -> Iterator[None]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        time.sleep(0.5)  # let the scheduler see them running
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()
