"""The face encoder: aligned crops in, L2-normalised embeddings out.

A model is a weights file ``<name>.pt`` and a manifest ``<name>.json`` side by side (shipped as
package data in ``models/``, importable as ``gatekeeper.models``). The manifest says which network
family builds it, which alignment template its crops use, its embedding size, its calibration and
the sha256 of its weights, which is checked at load. Nothing is guessed from tensor shapes, and
the pipeline never needs to know which model it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gatekeeper.vision.align import AlignmentTemplate
from gatekeeper.vision.model_card import Embedder, ModelCard, ModelFileError, file_digest, model_version, read_card, embed_in_batches  # noqa: F401  (Embedder, ModelFileError re-exported)
from gatekeeper.vision.model_files import DEFAULT_MODEL, MODELS_DIR, resolve_model_path  # noqa: F401  (re-exported)


EMBED_BATCH = 64


@dataclass(frozen=True)
class Family:
    """How to build one kind of network and turn uint8 crops into its input."""

    build: Callable[[ModelCard], nn.Module]
    preprocess: Callable[[nn.Module, torch.Tensor], torch.Tensor]  # (N, 3, S, S) uint8 -> input


def _build_doornet(card: ModelCard) -> nn.Module:
    from gatekeeper.vision.encoders.doornet import DoorNet

    arch = card.architecture
    return DoorNet(int(arch["input_size"]), card.embedding_dim, int(arch["width"]))


def _doornet_input(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    from gatekeeper.vision.encoders.doornet import preprocess

    return preprocess(x.permute(0, 2, 3, 1), net.input_size)  # type: ignore[arg-type]


def _build_resnet29(card: ModelCard) -> nn.Module:
    from gatekeeper.vision.encoders.resnet29 import FaceResNet29

    return FaceResNet29()


def _resnet29_input(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.normalise_input(x)  # type: ignore[operator]


FAMILIES: dict[str, Family] = {
    "doornet": Family(_build_doornet, _doornet_input),
    "face-resnet29": Family(_build_resnet29, _resnet29_input),
}


class FaceEncoder:
    """Batched embedding of aligned RGB crops (the manifest's template) with one model's weights."""

    def __init__(self, model: str | Path = DEFAULT_MODEL, threads: int | None = None, precision: str = "fp32") -> None:
        weights = resolve_model_path(model)
        # bf16: the network's matrix work in bfloat16 (autocast), the embedding in float32; faster
        # only on CPUs with native bf16 (AVX-512 BF16, AMX), emulated and slower elsewhere.
        self.precision = precision
        self.similarity_shift = 0.0  # the scale the calibration was measured on
        self.card = read_card(weights)
        digest = file_digest(weights)
        if self.card.sha256 and digest != self.card.sha256:
            raise ModelFileError(f"{weights}: sha256 {digest[:12]}… does not match its manifest ({self.card.sha256[:12]}…)")
        self.version = model_version(self.card, digest)
        if self.card.family not in FAMILIES:
            raise ModelFileError(f"{weights}: unknown network family {self.card.family!r}")
        self.family = FAMILIES[self.card.family]
        self.net = self.family.build(self.card)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.net.load_state_dict({k: v.float() for k, v in state["state_dict"].items()})
        except Exception as exc:  # any corruption must surface as one clear, fail-closed error
            raise ModelFileError(f"{weights}: cannot load encoder weights ({exc})") from exc
        self.net.eval()
        if threads:
            torch.set_num_threads(threads)

    @property
    def dim(self) -> int:
        return self.card.embedding_dim

    @property
    def template(self) -> AlignmentTemplate:
        return self.card.template

    def embed(self, crops: np.ndarray, flip: bool | None = None) -> np.ndarray:
        """(N, S, S, 3) uint8 crops aligned on ``self.template`` -> (N, D) float32 unit vectors.

        ``flip``: average each crop with its mirror (None: as the manifest says). Enrollment does,
        and so does the door unless ``door_flip_average`` is off (the mirror buys 2.4 points of TAR
        at FAR 1e-4 for a second pass: config.py)."""
        return embed_in_batches(self.card, crops, flip, EMBED_BATCH, self._embed_batch)

    def embed_single(self, crops: np.ndarray) -> np.ndarray:
        """One forward pass per crop, no mirror: the door with ``door_flip_average`` off."""
        return self.embed(crops, flip=False)

    def _embed_batch(self, crops: np.ndarray, flip: bool) -> np.ndarray:
        with torch.inference_mode():
            x = self.family.preprocess(self.net, torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2))
            if flip:
                # One forward pass over originals and mirrors, then average: ~free accuracy.
                both = self._forward(torch.cat([x, x.flip(3)]))
                emb = F.normalize(both[: len(x)] + both[len(x) :], dim=1)
            else:
                emb = F.normalize(self._forward(x), dim=1)
        return emb.numpy().astype(np.float32)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            return self.net(x).float()
