"""Batch augmentation on tensors: what a door camera does to a face that a photo did not.

Flips, small crop/scale/rotation jitter (alignment error), brightness/contrast/colour (lighting),
blur (motion, focus) and grayscale (IR cameras at night).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``x``: (N, 3, S, S) in [-1, 1] -> augmented batch of the same shape."""
    n = x.shape[0]

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator)

    flip = rand(n) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    x = _geometric_jitter(x, rand)
    gain = 1 + (rand(n, 1, 1, 1) - 0.5) * 0.6  # contrast 0.7..1.3
    bias = (rand(n, 1, 1, 1) - 0.5) * 0.5  # brightness +-0.25
    tint = 1 + (rand(n, 3, 1, 1) - 0.5) * 0.2  # per-channel colour cast
    x = x * gain * tint + bias
    gray = (rand(n) < 0.15)[:, None, None, None]
    x = torch.where(gray, x.mean(dim=1, keepdim=True).expand_as(x), x)
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = torch.where((rand(n) < 0.2)[:, None, None, None], blurred, x)
    return x.clamp(-1, 1)


def _geometric_jitter(x: torch.Tensor, rand) -> torch.Tensor:  # type: ignore[no-untyped-def]
    n = x.shape[0]
    angle = (rand(n) - 0.5) * math.radians(16)
    scale = 1 + (rand(n) - 0.5) * 0.2
    shift = (rand(n, 2) - 0.5) * 0.1
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
