"""FaceResNet29: dlib's face-descriptor ResNet (CC0) rebuilt in PyTorch, and its weight converter.

The architecture is dlib's ``dnn_face_recognition_ex.cpp`` network: a 7x7/2 stem and max pool, then
residual levels of 32 (3 blocks), 64 (down + 3), 128 (down + 2), 256 (down + 2) and 256 (down)
channels, global average pooling and a bias-free 256 -> 128 projection. dlib's per-channel affine
layers (frozen batch norm) are folded into the preceding convolutions, which is exact and removes
a third of the layers from every forward pass.

Two dlib details a straightforward ResNet gets wrong, and the port must copy:
- convolutions and pools with stride 2 have no padding (150 -> 72 -> 35 -> 17 -> 8 -> 3 -> 1);
- a down block's shortcut is a 2x2/2 average pool with no projection: it is zero-padded in channels
  and added at the *larger* spatial size, top-left aligned (dlib's ``add_prev``), so the 256-channel
  levels run at 4x4 and 2x2, not 3x3 and 1x1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gatekeeper.vision.encoders.dlib_dat import DlibLayer, DlibNetwork

# (channels, blocks, first block downsamples)
LEVELS: tuple[tuple[int, int, bool], ...] = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


def add_prev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: sum where the tensors overlap, zeros elsewhere, at the larger size.

    Written as two zero pads and an add: the same sums as writing both into a zero tensor, but
    it exports to ONNX as two Pad nodes, where in-place slice writes became ~30 shape, slice and
    scatter nodes per block that cost the int8 export more time than its convolutions."""
    if a.shape == b.shape:
        return a + b
    # Channel and spatial sizes are fixed by the architecture (only the batch varies): plain
    # ints, so an exported graph holds constant pads, not shape arithmetic.
    size = [max(int(x), int(y)) for x, y in zip(a.shape[1:], b.shape[1:])]
    return _pad_to(a, size) + _pad_to(b, size)


def _pad_to(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """Zeros after ``x``'s last rows, columns and channels, up to ``size`` = (C, H, W)."""
    c, h, w = (int(v) for v in x.shape[1:])
    if [c, h, w] == size:
        return x
    return F.pad(x, (0, size[2] - w, 0, size[1] - h, 0, size[0] - c))


class ResidualBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        body = self.conv2(F.relu(self.conv1(x)))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(add_prev(shortcut, body))


class FaceResNet29(nn.Module):
    """(N, 3, 150, 150) float RGB, dlib-normalised -> (N, 128) L2-normalised embedding.

    dlib compares raw descriptors by Euclidean distance; the product compares unit vectors by
    cosine. On LFW through the product's pipeline the two agree (99.03 % vs 99.02 %), while
    subtracting the descriptors' common mean first, which spreads them over the sphere, loses
    0.6 points and most of the TAR at FAR 1e-3: the common component carries identity too.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        blocks: list[nn.Module] = []
        cin = 32
        for cout, count, down in LEVELS:
            for i in range(count):
                blocks.append(ResidualBlock(cin, cout, down and i == 0))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, 128, bias=False)
        self.register_buffer("input_mean", torch.zeros(3))

    def normalise_input(self, rgb_uint8_nchw: torch.Tensor) -> torch.Tensor:
        return (rgb_uint8_nchw.float() - self.input_mean.view(1, 3, 1, 1)) / 256.0

    def trunk(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Stem and the first ``upto`` residual blocks (all by default)."""
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        return self.blocks[:upto](x) if upto is not None else self.blocks(x)

    def raw_descriptor(self, x: torch.Tensor) -> torch.Tensor:
        """dlib's own output: the un-normalised 128-d descriptor."""
        return self.fc(self.trunk(x).mean(dim=(2, 3)))

    def head(self, features: torch.Tensor, start: int) -> torch.Tensor:
        """Blocks from ``start`` on, pooling, projection and normalisation (for cached features)."""
        return F.normalize(self.fc(self.blocks[start:](features).mean(dim=(2, 3))), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.raw_descriptor(x), dim=1)


def state_dict_from_dlib(net: DlibNetwork) -> dict[str, torch.Tensor]:
    """Map the parsed dlib layers onto ``FaceResNet29``, folding each affine into its conv."""
    convs = _folded_convs(net.layers)
    model = FaceResNet29()
    names = [n.removesuffix(".weight") for n in model.state_dict() if n.endswith(".weight") and n != "fc.weight"]
    if len(names) != len(convs):
        raise ValueError(f"dlib network has {len(convs)} convolutions, FaceResNet29 {len(names)}")
    state: dict[str, torch.Tensor] = {}
    for name, (weight, bias) in zip(names, convs):
        expected = model.state_dict()[f"{name}.weight"].shape
        if tuple(weight.shape) != tuple(expected):
            raise ValueError(f"{name}: dlib weight {tuple(weight.shape)} != {tuple(expected)}")
        state[f"{name}.weight"], state[f"{name}.bias"] = weight, bias
    fc = [layer for layer in net.layers if layer.kind == "fc"]
    if len(fc) != 1 or fc[0].meta["inputs"] != 256 or fc[0].meta["outputs"] != 128 or fc[0].meta["bias"]:
        raise ValueError("expected one bias-free 256 -> 128 fc layer")
    state["fc.weight"] = torch.from_numpy(fc[0].params.reshape(256, 128).T.copy())  # dlib stores in x out
    state["input_mean"] = torch.tensor(net.input_mean_rgb, dtype=torch.float32)
    return state


def _folded_convs(layers: list[DlibLayer]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    for i, layer in enumerate(layers):
        if layer.kind != "con":
            continue
        affine = layers[i + 1] if i + 1 < len(layers) else None
        if affine is None or affine.kind != "affine":
            raise ValueError(f"conv layer {i} is not followed by an affine layer")
        k, m = int(layer.meta["filters"]), int(layer.meta["nr"])
        n_weights = layer.params.size - k
        cin = n_weights // (k * m * m)
        weight = layer.params[:n_weights].reshape(k, cin, m, m)
        bias = layer.params[n_weights:]
        gamma, beta = affine.params[:k], affine.params[k:]
        out.append((torch.from_numpy((weight * gamma[:, None, None, None]).astype(np.float32)),
                    torch.from_numpy((bias * gamma + beta).astype(np.float32))))
    return out
