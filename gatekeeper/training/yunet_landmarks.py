"""Where YuNet's five landmarks sit relative to MTCNN's (`gatekeeper train yunet-landmarks`).

On LFW photos of people in no evaluation pair, each face is found by both detectors; MTCNN's
points define a similarity transform onto the ArcFace-112 template, and YuNet's points are carried
through the same transform. Their mean is the mapping ``vision/yunet.py`` uses to put YuNet's
landmarks where MTCNN would; the spread says how well one similarity transform does it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gatekeeper.vision.align import ARCFACE_112, similarity_transform
from gatekeeper.vision.detect import PHOTO_PROFILE, FaceDetector
from gatekeeper.vision.images import read_rgb
from gatekeeper.vision.model_files import MODELS_DIR
from gatekeeper.vision.yunet import MANIFEST, ONET_FILE, ONET_INPUT, ONET_OUTPUTS, YuNetDetector, yunet_manifest, yunet_net, yunet_to_mtcnn


@dataclass(frozen=True)
class LandmarkMapping:
    faces: int
    means: np.ndarray  # (5, 2) YuNet points in the ArcFace-112 frame of MTCNN's points
    box: np.ndarray  # (4,) MTCNN's box (x1, y1, x2, y2) in that frame
    spread: np.ndarray  # (5,) px: standard deviation of each point there
    residual_px: float  # mean distance, mapped YuNet points to MTCNN's, in ArcFace-112 pixels


def estimate_mapping(photos: list[Path]) -> LandmarkMapping:
    mtcnn, yunet = FaceDetector.from_profile(PHOTO_PROFILE), _raw_yunet()
    pairs = []
    for path in photos:
        image = read_rgb(path)
        m, y = mtcnn.detect(image), yunet(image)
        if len(m) != 1 or len(y) != 1 or m[0].score < 0.95:
            continue  # one clear face each, so the two detectors surely saw the same one
        pairs.append((m[0].landmarks, y[0], m[0].box))
    mapped, boxes = [], []
    for mt, yu, box in pairs:
        matrix = similarity_transform(mt, ARCFACE_112)
        mapped.append(yu @ matrix[:, :2].T + matrix[:, 2])
        boxes.append((box.reshape(2, 2) @ matrix[:, :2].T + matrix[:, 2]).reshape(4))
    stack = np.stack(mapped)
    means = stack.mean(axis=0).astype(np.float32)
    residual = np.mean([_in_arcface(yunet_to_mtcnn(yu, means)[0], mt) for mt, yu, _ in pairs])
    return LandmarkMapping(len(pairs), means, np.mean(boxes, axis=0).astype(np.float32), np.linalg.norm(stack - means, axis=2).std(axis=0), float(residual))


def write_mapping(mapping: LandmarkMapping, source: str) -> Path:
    card = yunet_manifest()
    card["mtcnn_mapping"] = {
        "yunet_in_arcface_112": np.round(mapping.means.astype(float), 3).tolist(), "mtcnn_box_in_arcface_112": np.round(mapping.box.astype(float), 3).tolist(), "faces": mapping.faces, "spread_px": np.round(mapping.spread.astype(float), 2).tolist(),
        "residual_px": round(mapping.residual_px, 3), "measured_on": source, "command": "gatekeeper train yunet-landmarks",
    }
    card["sha256"] = hashlib.sha256((MODELS_DIR / card["file"]).read_bytes()).hexdigest()
    path = MODELS_DIR / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, path)  # the door reads this file: never half of it
    return path


def _raw_yunet():  # type: ignore[no-untyped-def]
    """YuNet's own landmarks (no mapping yet), at the photo detector's size."""
    net = yunet_net(yunet_manifest(), 320)

    def detect(image_rgb: np.ndarray) -> list[np.ndarray]:
        net.setInputSize((image_rgb.shape[1], image_rgb.shape[0]))
        _, rows = net.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        return [] if rows is None else [r[4:14].reshape(5, 2).astype(np.float32) for r in rows]

    return detect


def _in_arcface(points: np.ndarray, mtcnn: np.ndarray) -> float:
    """Mean distance between the mapped points and MTCNN's own, in ArcFace-112 pixels."""
    matrix = similarity_transform(mtcnn, ARCFACE_112)
    def warp(p: np.ndarray) -> np.ndarray:
        return p @ matrix[:, :2].T + matrix[:, 2]
    return float(np.linalg.norm(warp(points) - warp(mtcnn), axis=1).mean())


__all__ = ["LandmarkMapping", "YuNetDetector", "estimate_mapping", "write_mapping"]


def export_last_stage() -> Path:
    """MTCNN's output network (facenet-pytorch's ``data/onet.pt``, MIT, unchanged) as ONNX for
    OpenCV's DNN module, named in models/yunet.json with its sha256 (written by rename)."""
    import torch
    from facenet_pytorch.models.mtcnn import ONet

    out = MODELS_DIR / ONET_FILE
    partial = out.with_suffix(".onnx.tmp")
    torch.onnx.export(ONet().eval(), torch.zeros(1, 3, ONET_INPUT, ONET_INPUT), str(partial), dynamo=False, input_names=["crops"], output_names=list(ONET_OUTPUTS),
                      dynamic_axes={"crops": {0: "n"}, **{name: {0: "n"} for name in ONET_OUTPUTS}}, opset_version=13)
    os.replace(partial, out)
    card = yunet_manifest()
    card["last_stage"] = {"file": ONET_FILE, "sha256": hashlib.sha256(out.read_bytes()).hexdigest(), "source": "facenet-pytorch 2.5.3, data/onet.pt (MIT: models/MTCNN-LICENSE.txt), exported unchanged",
                          "command": "gatekeeper train yunet-last-stage"}
    path = MODELS_DIR / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, path)
    return out
