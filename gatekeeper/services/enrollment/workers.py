"""Enrollment photos embedded in forked worker processes.

Processes, not threads: MTCNN's per-box Python work holds the GIL, so threads barely overlap
(bench/enroll_throughput.py). Forked workers inherit the loaded models, like a torch DataLoader's,
and run one torch thread each.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from gatekeeper.services.enrollment.photos import PhotoResult, embed_photo
from gatekeeper.vision.pipeline import FacePipeline

Batch = list[tuple[str, str | None, list[Path]]]  # (person id, display name, photo files)


def embed_people(pipeline: FacePipeline, batch: Batch, workers: int) -> Iterator[tuple[str, str | None, list[PhotoResult]]]:
    """Everyone's photos embedded in ``workers`` processes; yields each person in order."""
    few = sum(len(photos) for _, _, photos in batch) < 4 * workers  # not worth a fork
    if few or workers <= 1 or "fork" not in mp.get_all_start_methods():
        for pid, name, photos in batch:
            yield pid, name, [embed_photo(pipeline, p) for p in photos]
        return
    pipeline.load_enrollment()  # in the parent: the forked workers share the loaded models
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_worker_start, initargs=(pipeline,))
    try:
        jobs = [(pid, name, [pool.submit(_worker_embed, p) for p in photos]) for pid, name, photos in batch]
        for pid, name, futures in jobs:
            yield pid, name, [f.result() for f in futures]
    finally:
        pool.shutdown(cancel_futures=True)


_worker_pipeline: FacePipeline | None = None


def _worker_start(pipeline: FacePipeline) -> None:
    global _worker_pipeline
    _die_with_parent()  # first: the parent may be killed while this worker is still starting
    import torch  # here, not at import: a door that never enrolls runs without torch

    torch.set_num_threads(1)
    _worker_pipeline = pipeline


def _die_with_parent() -> None:
    """A worker holds ~500 MB: when the enrolling process is killed (SIGKILL skips every cleanup),
    the kernel sends the worker SIGKILL too (Linux PR_SET_PDEATHSIG); elsewhere a watchdog thread
    notices the parent is gone."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the call took effect
                os._exit(1)
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def _worker_embed(path: Path) -> PhotoResult:
    assert _worker_pipeline is not None, "enrollment worker used before it started"
    return embed_photo(_worker_pipeline, path)
