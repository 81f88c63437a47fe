"""An encoder's manifest (``models/<name>.json``), read without torch: the door's ONNX runtime
(``onnx_encoder.py``) and the torch encoder (``encoder.py``) share it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gatekeeper.errors import EnvironmentFault
from gatekeeper.vision.align import TEMPLATES, AlignmentTemplate


class ModelFileError(EnvironmentFault):
    """The encoder weights are missing, unreadable or do not match their manifest."""


@dataclass(frozen=True)
class ModelCard:
    """The machine-readable manifest shipped next to the weights (``models/<name>.json``)."""

    name: str
    family: str  # which network builds it: see encoder.FAMILIES
    template: AlignmentTemplate
    embedding_dim: int
    architecture: dict[str, Any]
    flip_average: bool
    sha256: str | None
    calibration: dict[str, Any] = field(default_factory=dict)
    onnx_int8: dict[str, Any] = field(default_factory=dict)  # the int8 export the door may run (encoder_precision = int8)

    @classmethod
    def read(cls, path: Path) -> "ModelCard":
        data = json.loads(path.read_text())
        arch = data["architecture"]
        template = arch.get("template", "arcface-112")
        if template not in TEMPLATES:
            raise ValueError(f"unknown alignment template {template!r} (known: {', '.join(TEMPLATES)})")
        return cls(
            name=data["name"],
            family=arch.get("family_id", "doornet"),
            template=TEMPLATES[template],
            embedding_dim=int(arch["embedding_dim"]),
            architecture=arch,
            flip_average=bool(data.get("flip_average", True)),
            sha256=data.get("sha256"),
            calibration=data.get("calibration", {}),
            onnx_int8=data.get("onnx_int8", {}),
        )


def read_card(weights: Path) -> ModelCard:
    """The manifest beside ``weights`` (``<name>.json`` next to ``<name>.pt``)."""
    card_path = weights.with_suffix(".json")
    if not weights.is_file():
        raise ModelFileError(f"{weights}: encoder weights not found")
    if not card_path.is_file():
        raise ModelFileError(f"{card_path}: model manifest not found next to the weights")
    try:
        return ModelCard.read(card_path)
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{card_path}: malformed model manifest ({exc})") from exc


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def model_version(card: ModelCard, digest: str) -> str:
    """What galleries, audit rows and migrations call this model: its name and weights' digest.
    The int8 export of the same weights carries the same version: one embedding space."""
    return f"{card.name}-{digest[:8]}"


def embed_in_batches(card: ModelCard, crops: np.ndarray, flip: bool | None, batch: int, embed_batch: Callable[[np.ndarray, bool], np.ndarray]) -> np.ndarray:
    """(N, S, S, 3) uint8 crops aligned on the card's template -> (N, D) float32 unit vectors, by
    ``embed_batch`` on at most ``batch`` crops at a time (activations grow with the batch, and an
    evaluation or migration may pass thousands of crops at once). ``flip``: average each crop with
    its mirror (None: as the manifest says). Both runtimes check and batch crops here."""
    if len(crops) == 0:
        return np.zeros((0, card.embedding_dim), np.float32)
    size = card.template.size
    if crops.shape[1:] != (size, size, 3) or crops.dtype != np.uint8:
        raise ValueError(f"{card.name} takes ({size}, {size}, 3) uint8 crops, got {crops.shape} {crops.dtype}")
    flip = card.flip_average if flip is None else flip
    return np.concatenate([embed_batch(crops[i : i + batch], flip) for i in range(0, len(crops), batch)])


class Embedder(Protocol):
    """What the pipeline needs of an encoder: the torch ``encoder.FaceEncoder``, or its int8 export under ONNX Runtime
    (``onnx_encoder.Int8FaceEncoder``, door frames only)."""

    card: ModelCard
    version: str
    precision: str  # fp32, bf16 or int8
    similarity_shift: float  # how its probes score against full-precision templates, vs full precision (0: it is full precision)

    @property
    def dim(self) -> int: ...

    @property
    def template(self) -> AlignmentTemplate: ...

    def embed(self, crops: np.ndarray, flip: bool | None = None) -> np.ndarray: ...
