"""Frozen-trunk feature cache: the ported network's early levels run once per cached face.

Fine-tuning keeps the first ``FROZEN_BLOCKS`` residual blocks of the port fixed (they hold generic
edge and texture filters learnt from dlib's ~3 M faces; ~18 k photos would only blur them), so
their output for every face, and for its mirror image, can be computed once. Training and
evaluating the later levels then costs seconds per step on a CPU instead of minutes. The cache is
fp16 (the shipped weights are fp16 too) and rebuildable: delete it, or run
``gatekeeper train features``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gatekeeper.vision.encoders.resnet29 import FaceResNet29
from gatekeeper.training.facecache import CachedFaces

FROZEN_BLOCKS = 10  # stem + levels 32, 64, 128: output 128 x 8 x 8


def trunk_features(net: FaceResNet29, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    """(N, 2, 128, 8, 8) fp16: the frozen trunk's output for each crop and its mirror image."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(crops), batch):
            x = net.normalise_input(torch.from_numpy(crops[i : i + batch]).permute(0, 3, 1, 2))
            both = net.trunk(torch.cat([x, x.flip(3)]), upto=FROZEN_BLOCKS).half()
            n = len(x)
            out.append(torch.stack([both[:n], both[n:]], dim=1).numpy())
    return np.concatenate(out)


def cached_features(net: FaceResNet29, cache: CachedFaces, path: Path) -> np.ndarray:
    """Load ``path`` if it matches this cache's photos, else compute and save it atomically."""
    if path.exists():
        data = np.load(path, allow_pickle=False)
        if np.array_equal(data["paths"], cache.paths):
            return data["features"]
    feats = trunk_features(net, cache.crops)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path) + ".tmp.npz"
    np.savez(tmp, features=feats, paths=cache.paths)
    os.replace(tmp, path)
    return feats


def head_embeddings(net: FaceResNet29, features: np.ndarray, batch: int = 256) -> np.ndarray:
    """Flip-averaged unit embeddings from cached trunk features: what the full encoder gives."""
    out = []
    net.eval()
    with torch.inference_mode():
        for i in range(0, len(features), batch):
            f = torch.from_numpy(features[i : i + batch]).float()
            e = net.head(f[:, 0], FROZEN_BLOCKS) + net.head(f[:, 1], FROZEN_BLOCKS)
            out.append(torch.nn.functional.normalize(e, dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 128), np.float32)
