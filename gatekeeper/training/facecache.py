"""On-disk cache of aligned training crops and their landmarks.

Detection is the slow part of a training epoch on a CPU, so every photo is detected and aligned
once, by the product's own detector and aligner, and the crops are stored as uint8 arrays in
shards of a few hundred photos. Shards are written atomically and skipped when present, so an
interrupted build resumes where it stopped; ``gatekeeper train cache`` rebuilds everything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from gatekeeper.vision.align import TEMPLATES, AlignmentTemplate, align_face
from gatekeeper.vision.images import PHOTO_SUFFIXES
from gatekeeper.vision.detect import TRAINING_MIN_SCORE, TRAINING_PROFILE, FaceDetector, most_central_face

SHARD_SIZE = 400


@dataclass(frozen=True)
class CachedFaces:
    """All cached faces of one dataset, in a stable (sorted path) order."""

    crops: np.ndarray  # (N, S, S, 3) uint8 RGB, aligned on the cache's template
    paths: np.ndarray  # (N,) str, relative to the dataset root
    labels: np.ndarray  # (N,) str identity ("" for unlabelled folders)
    detected: np.ndarray  # (N,) bool: False where the fallback central landmarks were used
    landmarks: np.ndarray  # (N, 5, 2) float32 in the photo's pixels (detected or fallback)

    def __len__(self) -> int:
        return len(self.paths)


def list_photos(root: Path, labelled: bool) -> list[str]:
    """Relative paths of the photos under ``root``: ``<identity>/<photo>`` or a flat folder."""
    pattern = "*/*" if labelled else "*"
    return sorted(
        str(p.relative_to(root)) for p in root.glob(pattern) if p.suffix.lower() in PHOTO_SUFFIXES
    )


def build_cache(
    root: Path,
    out_dir: Path,
    labelled: bool = True,
    limit: int | None = None,
    workers: int = 2,
    offset: int = 0,
    template: AlignmentTemplate = TEMPLATES["dlib-chip-150"],
) -> CachedFaces:
    """Detect and align photos under ``root`` (sorted, from
    ``offset``, at most ``limit``); then load the whole cache."""
    photos = list_photos(root, labelled)[offset:][:limit]
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        (str(root), photos[i : i + SHARD_SIZE], str(out_dir / f"shard-{i // SHARD_SIZE:05d}.npz"), not labelled, template.name)
        for i in range(0, len(photos), SHARD_SIZE)
    ]
    todo = [job for job in jobs if not Path(job[2]).exists()]
    if todo:
        with get_context("spawn").Pool(workers) as pool:
            for done, _ in enumerate(pool.imap_unordered(_build_shard, todo), start=1):
                print(f"[cache] {out_dir.name}: shard {done}/{len(todo)}", flush=True)
    return load_cache(out_dir)


def load_cache(out_dir: Path) -> CachedFaces:
    shards = sorted(out_dir.glob("shard-*.npz"))
    if not shards:
        raise FileNotFoundError(f"no cached faces in {out_dir}; run `gatekeeper train cache` first")
    parts = [np.load(s, allow_pickle=False) for s in shards]
    return CachedFaces(
        crops=np.concatenate([p["crops"] for p in parts]),
        paths=np.concatenate([p["paths"] for p in parts]),
        labels=np.concatenate([p["labels"] for p in parts]),
        detected=np.concatenate([p["detected"] for p in parts]),
        landmarks=np.concatenate([p["landmarks"] for p in parts]),
    )


def _build_shard(job: tuple[str, list[str], str, bool, str]) -> str:
    return build_shard(*job)


def build_shard(root: str, photos: list[str], out_path: str, tight_crops: bool = False, template: str = "dlib-chip-150") -> str:
    """Detect and align ``photos`` (relative to ``root``) into one shard file at ``out_path``."""
    import torch

    torch.set_num_threads(1)  # one worker per core: threads inside a worker only contend
    detector = FaceDetector.from_profile(TRAINING_PROFILE)
    crops, detected, points = [], [], []
    for rel in photos:
        image, pad = _read_rgb(Path(root) / rel, pad=tight_crops)
        face = most_central_face([f for f in detector.detect(image) if f.score >= TRAINING_MIN_SCORE], image.shape)
        landmarks = face.landmarks if face is not None else _fallback_landmarks(image.shape, pad)
        crops.append(align_face(image, landmarks, TEMPLATES[template]))
        points.append(landmarks - pad)
        detected.append(face is not None)
    labels = [rel.split("/")[0] if "/" in rel else "" for rel in photos]
    tmp = out_path + ".tmp.npz"
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        tmp,
        crops=np.stack(crops),
        paths=np.array(photos),
        labels=np.array(labels),
        detected=np.array(detected),
        landmarks=np.stack(points).astype(np.float32),
    )
    os.replace(tmp, out_path)
    return out_path


def _read_rgb(path: Path, pad: bool) -> tuple[np.ndarray, int]:
    """RGB image; with ``pad``, a reflected border so tightly cropped faces fit MTCNN's window."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path}: unreadable image")
    if not pad:
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 0
    pad_px = max(bgr.shape[:2]) // 5
    bgr = cv2.copyMakeBorder(bgr, pad_px, pad_px, pad_px, pad_px, cv2.BORDER_REFLECT)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), pad_px


def _fallback_landmarks(shape: tuple[int, ...], pad: int) -> np.ndarray:
    """Template landmarks around the image centre, for face-centred photos MTCNN missed.

    The dataset photos frame the face at about 1/2.2 of the image; put the template's face there.
    """
    h, w = shape[:2]
    side = (min(h, w) - 2 * pad) / 2.2 / 0.75  # the template's eye-to-mouth span is ~3/4 of its face box
    arcface = TEMPLATES["arcface-112"]
    return (arcface.points / arcface.size - 0.5) * side + np.array([w / 2, h / 2], dtype=np.float32)


def recut_cache(root: Path, out_dir: Path, template: AlignmentTemplate, tight_crops: bool = False) -> None:
    """Re-align every cached photo from its stored landmarks (no detection): for a changed template."""
    for shard in sorted(out_dir.glob("shard-*.npz")):
        data = dict(np.load(shard, allow_pickle=False))
        crops = []
        for rel, points in zip(data["paths"], data["landmarks"]):
            image, pad = _read_rgb(root / str(rel), pad=tight_crops)
            crops.append(align_face(image, points + pad, template))
        data["crops"] = np.stack(crops)
        tmp = str(shard) + ".tmp.npz"
        np.savez(tmp, **data)
        os.replace(tmp, shard)
