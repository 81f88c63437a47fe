"""DoorNet: the face encoder's network, a MobileFaceNet-style CNN sized for a 2-core door box.

Inverted-residual blocks (MobileNetV2) with PReLU and a global depthwise convolution in place of
average pooling, as MobileFaceNet showed: faces are aligned, so *where* a feature fires matters and
a learned per-position weighting beats a uniform average.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.PReLU(cout))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int = 2) -> None:
        super().__init__()
        hidden = cin * expansion
        self.body = nn.Sequential(
            _conv_bn(cin, hidden, 1),
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            _conv_bn(hidden, cout, 1, act=False),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class DoorNet(nn.Module):
    """Aligned RGB face (N, 3, S, S) in [-1, 1] -> L2-normalised embedding (N, D)."""

    def __init__(self, input_size: int = 64, embedding_dim: int = 128, width: int = 64) -> None:
        super().__init__()
        w = width
        stages = [(w, 2, 2), (2 * w, 3, 2), (4 * w, 2, 2)]  # (channels, blocks, first stride)
        layers: list[nn.Module] = [_conv_bn(3, w // 2, 3, 2), _conv_bn(w // 2, w // 2, 3, groups=w // 2)]
        cin = w // 2
        for cout, blocks, stride in stages:
            for i in range(blocks):
                layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1))
                cin = cout
        layers.append(_conv_bn(cin, 8 * w, 1))
        self.features = nn.Sequential(*layers)
        spatial = input_size // 16
        self.gdc = _conv_bn(8 * w, 8 * w, spatial, groups=8 * w, act=False)
        self.gdc[0].padding = (0, 0)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(8 * w, embedding_dim, bias=False), nn.BatchNorm1d(embedding_dim))
        self.input_size = input_size
        self.embedding_dim = embedding_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.gdc(self.features(x))), dim=1)


def preprocess(crops_uint8: torch.Tensor, input_size: int) -> torch.Tensor:
    """(N, H, W, 3) uint8 aligned crops -> (N, 3, S, S) float in [-1, 1].

    Shared by training and inference so both see identically resampled pixels; 'area'
    interpolation anti-aliases the downscale from the 112-pixel alignment crop.
    """
    x = crops_uint8.permute(0, 3, 1, 2).float()
    if x.shape[-1] != input_size:
        x = F.interpolate(x, size=(input_size, input_size), mode="area")
    return x / 127.5 - 1.0
