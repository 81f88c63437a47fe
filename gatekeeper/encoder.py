"""The face encoder: aligned crops in, L2-normalised embeddings out, from weights in ``models/``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gatekeeper.network import DoorNet, preprocess

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = "doornet-v1"


class ModelFileError(RuntimeError):
    """The encoder weights are missing, unreadable or do not match their metadata."""


@dataclass(frozen=True)
class ModelCard:
    """Machine-readable metadata shipped next to the weights (``models/<name>.json``)."""

    name: str
    input_size: int
    embedding_dim: int
    width: int
    flip_average: bool
    calibration: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> "ModelCard":
        data = json.loads(path.read_text())
        arch = data["architecture"]
        return cls(
            name=data["name"],
            input_size=int(arch["input_size"]),
            embedding_dim=int(arch["embedding_dim"]),
            width=int(arch["width"]),
            flip_average=bool(data.get("flip_average", True)),
            calibration=data.get("calibration", {}),
        )


def resolve_model_path(model: str | Path) -> Path:
    """A name like ``doornet-v1`` means ``models/doornet-v1.pt``; anything else is a path."""
    path = Path(model)
    if path.suffix != ".pt":
        path = MODELS_DIR / f"{model}.pt"
    return path


class FaceEncoder:
    """Batched embedding of aligned 112x112 RGB crops with the shipped DoorNet weights."""

    def __init__(self, model: str | Path = DEFAULT_MODEL, threads: int | None = None) -> None:
        weights = resolve_model_path(model)
        self.card = _read_card(weights)
        self.version = f"{self.card.name}-{_file_digest(weights)[:8]}"
        self.net = DoorNet(self.card.input_size, self.card.embedding_dim, self.card.width)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.net.load_state_dict(state["state_dict"])
        except Exception as exc:  # any corruption must surface as one clear, fail-closed error
            raise ModelFileError(f"{weights}: cannot load encoder weights ({exc})") from exc
        self.net.eval()
        if threads:
            torch.set_num_threads(threads)

    @property
    def dim(self) -> int:
        return self.card.embedding_dim

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """(N, 112, 112, 3) uint8 aligned crops -> (N, D) float32 unit vectors."""
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        with torch.inference_mode():
            x = preprocess(torch.from_numpy(np.ascontiguousarray(crops)), self.card.input_size)
            if self.card.flip_average:
                # One forward pass over originals and mirrors, then average: ~free accuracy.
                both = self.net(torch.cat([x, x.flip(3)]))
                emb = F.normalize(both[: len(x)] + both[len(x) :], dim=1)
            else:
                emb = self.net(x)
        return emb.numpy().astype(np.float32)


def _read_card(weights: Path) -> ModelCard:
    card_path = weights.with_suffix(".json")
    if not weights.is_file():
        raise ModelFileError(f"{weights}: encoder weights not found")
    if not card_path.is_file():
        raise ModelFileError(f"{card_path}: model metadata not found next to the weights")
    try:
        return ModelCard.read(card_path)
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{card_path}: malformed model metadata ({exc})") from exc


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
