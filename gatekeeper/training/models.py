"""The models training and evaluation compare, as embedders over the cached faces.

A model is scored either through the full encoder on the cached aligned crops (what the product
does to a photo) or, for quick comparisons of fine-tuning runs, through its trainable head on the
frozen trunk's cached features (the same network; fp16 rounding of the features aside).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gatekeeper.vision.encoder import FaceEncoder
from gatekeeper.vision.encoders.resnet29 import FaceResNet29
from gatekeeper.training.evaluate import Embedder
from gatekeeper.training.facecache import CachedFaces, load_cache
from gatekeeper.training.features import FROZEN_BLOCKS, cached_features, head_embeddings
from gatekeeper.training.finetune import TrainingFeatures
from gatekeeper.training.recipes import Holdout, cache_root, features_path


def encoder_embedder(encoder: FaceEncoder, cache: CachedFaces, flip: bool | None = None) -> Embedder:
    """The full encoder on cached crops: flip-averaged as the manifest says (enrollment), or
    ``flip=False`` for one pass (the door)."""
    return lambda idx: encoder.embed(cache.crops[idx], flip=flip)


def head_embedder(net: FaceResNet29, features: np.ndarray) -> Embedder:
    return lambda idx: head_embeddings(net, features[idx])


def load_resnet29(path: Path) -> FaceResNet29:
    net = FaceEncoder(path).net
    if not isinstance(net, FaceResNet29):
        raise ValueError(f"{path} is not a FaceResNet29 model")
    return net


def dataset_features(port: FaceResNet29, name: str) -> tuple[CachedFaces, np.ndarray]:
    cache = load_cache(cache_root() / name)
    return cache, cached_features(port, cache, features_path(name))


def training_features(port: FaceResNet29, held: Holdout, negatives: bool = False) -> TrainingFeatures:
    """Labelled LFW and CelebA faces outside the holdout, identities with 2+ detected photos;
    with ``negatives``, the UTKFace faces training may use (never the open-set strangers)."""
    feats, ids, next_id = [], [], 0
    for name, banned in held.exclusions().items():
        cache, f = dataset_features(port, name)
        keep = cache.detected & ~np.isin(cache.labels, list(banned))
        names, inverse, counts = np.unique(cache.labels[keep], return_inverse=True, return_counts=True)
        rows = np.flatnonzero(keep)[counts[inverse] >= 2]
        label = np.unique(cache.labels[rows], return_inverse=True)[1]
        feats.append(f[rows])
        ids.append(label + next_id)
        next_id += int(label.max()) + 1
    features = np.concatenate(feats)
    extra = extra_port = None
    if negatives:
        cache, extra = dataset_features(port, "utkface-train")
        extra = extra[cache.detected]
        extra_port = port_embeddings(port, extra)
    return TrainingFeatures(features, np.concatenate(ids), port_embeddings(port, features), extra, extra_port)


def port_embeddings(port: FaceResNet29, features: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, 2, 128): the unchanged network's unit embedding of each face and of its mirror."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(features), batch):
            f = torch.from_numpy(features[i : i + batch]).float()
            out.append(torch.stack([port.head(f[:, j], FROZEN_BLOCKS) for j in (0, 1)], dim=1).numpy())
    return F.normalize(torch.from_numpy(np.concatenate(out)), dim=2).numpy()
