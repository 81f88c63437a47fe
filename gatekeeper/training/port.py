"""Turn dlib's CC0 face-descriptor ResNet into the project's own PyTorch weights, and export models.

``gatekeeper train port`` reads ``dlib_face_recognition_resnet_model_v1.dat`` from the
``face-recognition-models`` package (the ``train`` extra) with the pure-Python reader in
``gatekeeper.vision.encoders.dlib_dat``; dlib itself is not needed, here or at run time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from gatekeeper.vision.align import DLIB_CHIP_150
from gatekeeper.vision.encoders.dlib_dat import read_dlib_network
from gatekeeper.vision.encoders.resnet29 import FaceResNet29, state_dict_from_dlib


def dlib_model_file() -> Path:
    try:
        import face_recognition_models
    except ImportError as exc:
        raise RuntimeError("install the `train` extra (face-recognition-models) to read dlib's weights") from exc
    return Path(face_recognition_models.face_recognition_model_location())


def ported_network(dat: Path | None = None) -> FaceResNet29:
    net = FaceResNet29()
    net.load_state_dict(state_dict_from_dlib(read_dlib_network(dat or dlib_model_file())))
    return net.eval()


def export_resnet29(net: FaceResNet29, out: Path, name: str, extra: dict[str, Any]) -> Path:
    """Write fp16 weights (half the size; embeddings agree with fp32 to cosine > 0.99999) and the
    manifest with their sha256. Returns the weights path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    tmp = out.with_suffix(".pt.tmp")
    torch.save({"state_dict": state}, tmp)
    tmp.replace(out)
    manifest = {
        "name": name,
        "architecture": {
            "family": "FaceResNet29 (dlib's face-descriptor ResNet, ported)",
            "family_id": "face-resnet29",
            "template": DLIB_CHIP_150.name,
            "input_size": DLIB_CHIP_150.size,
            "embedding_dim": 128,
            "parameters": sum(p.numel() for p in net.parameters()),
        },
        "flip_average": True,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        **extra,
    }
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out
