"""The int8 export of the shipped encoder (`gatekeeper train encoder-int8`), which the door runs
with ``encoder_precision = int8`` (``vision/onnx_encoder.py``).

The torch network, with its input preprocessing, is exported to ONNX (uint8 crops in, the raw
descriptor out) and quantized statically by ONNX Runtime: weights int8 per output channel,
activations uint8 with ranges measured on aligned faces (and their mirrors) of LFW people in no
evaluation pair; the final projection stays float32. The file is named in the model's manifest (``onnx_int8``) with its sha256, the
sha256 of the weights it came from and its agreement with them on the calibration faces.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from gatekeeper.errors import EnvironmentFault
from gatekeeper.vision.encoder import FaceEncoder
from gatekeeper.vision.model_card import file_digest

if TYPE_CHECKING:
    from gatekeeper.vision.pipeline import FacePipeline

CALIBRATION_BATCH = 8


class CropsToDescriptor(nn.Module):
    """(N, S, S, 3) uint8 aligned crops -> (N, D) raw descriptor: the graph the export holds."""

    def __init__(self, encoder: FaceEncoder) -> None:
        super().__init__()
        self.net, self.preprocess = encoder.net, encoder.family.preprocess

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.net(self.preprocess(self.net, crops.permute(0, 3, 1, 2)))


def calibration_faces(pipeline: FacePipeline, photos: int = 400) -> np.ndarray:
    """Aligned crops of the first photo of up to ``photos`` LFW people in no evaluation pair (none of
    the figures is measured on them), read as enrollment reads a photo."""
    from gatekeeper.training.recipes import datasets_root, lfw_pairs
    from gatekeeper.vision.images import read_rgb
    from gatekeeper.vision.pipeline import FaceError

    root = datasets_root() / "lfw"
    if not (root / "pairs.txt").is_file():
        raise EnvironmentFault(f"{root}: LFW with its pairs.txt not found; set GATEKEEPER_DATASETS to the shared datasets folder")
    in_pairs = lfw_pairs().identities_in_folds(set(range(10)))
    crops = []
    for name in sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in in_pairs)[:photos]:
        path = sorted((root / name).glob("*.jpg"))[0]
        try:
            crops.append(pipeline.enrollment_face(read_rgb(path), str(path)).crop)
        except FaceError:
            continue
    if not crops:
        raise EnvironmentFault(f"{root}: no usable face among the first photos of LFW people outside the evaluation pairs")
    return np.stack(crops)


def loosest_door_threshold(encoder: FaceEncoder) -> float:
    """The card's FAR 1e-2 point: the similarity shift is measured from there up."""
    return float(encoder.card.calibration["far_thresholds"]["0.01"]["threshold"])


@dataclass(frozen=True)
class Int8Export:
    path: Path
    sha256: str
    calibration_faces: int
    cosine_min: float  # int8 vs float32 embedding (mirror-averaged) on the calibration faces
    cosine_mean: float
    similarity_shift: float  # int8 probe minus fp32 probe, similarity to fp32 templates of other faces (mean, near the door's thresholds)


def export_int8(encoder: FaceEncoder, crops: np.ndarray, out: Path, near: float, float_convs: Sequence[int] = ()) -> Int8Export:
    """Writes the int8 model for ``encoder`` to ``out``, its activation ranges measured on ``crops``;
    ``near``: the loosest door threshold of the card (its FAR 1e-2 point), where the shift is measured;
    ``float_convs``: convolutions (by position in the graph, negative from the end) also left in
    float32 (bench/int8_layers.py; the shipped export keeps none)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Faces(CalibrationDataReader):  # each batch with its mirrors: the door embeds both
        def __init__(self) -> None:
            self._starts = iter(range(0, len(crops), CALIBRATION_BATCH))

        def get_next(self) -> dict[str, np.ndarray] | None:
            start = next(self._starts, None)
            if start is None:
                return None
            batch = crops[start : start + CALIBRATION_BATCH]
            return {"crops": np.ascontiguousarray(np.concatenate([batch, batch[:, :, ::-1]]))}

    with tempfile.TemporaryDirectory() as tmp:
        plain, prepared, quantized = (Path(tmp) / n for n in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        torch.onnx.export(CropsToDescriptor(encoder).eval(), torch.from_numpy(crops[:2]), str(plain), input_names=["crops"], output_names=["descriptor"],
                          dynamic_axes={"crops": {0: "n"}, "descriptor": {0: "n"}}, opset_version=17, dynamo=False)
        quant_pre_process(str(plain), str(prepared))
        quantize_static(str(prepared), str(quantized), Faces(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        nodes_to_exclude=_kept_float(prepared, float_convs))
        _move(quantized, out)
    ours, full = _embeddings(out, crops), encoder.embed(crops, flip=True)
    cosine = np.sum(ours * full, axis=1)
    return Int8Export(out, file_digest(out), len(crops), float(cosine.min()), float(cosine.mean()), _similarity_shift(ours, full, near))


def _kept_float(model: Path, float_convs: Sequence[int]) -> list[str]:
    """The nodes left in float32: the final 256 -> 128 projection, always (quantizing it moved the
    embeddings most: cosine to fp32 on LFW faces, mean 0.99968 -> 0.99980 kept float, and it costs
    nothing measurable, one small matrix product per face), and the convolutions at ``float_convs``."""
    import onnx

    nodes = onnx.load(str(model)).graph.node
    convs = [node.name for node in nodes if node.op_type == "Conv"]
    return [node.name for node in nodes if node.op_type in ("MatMul", "Gemm")] + [convs[i] for i in float_convs]


def _move(src: Path, dst: Path) -> None:
    """Into place by rename from beside ``dst`` (the temporary folder may be another file
    system): the door never reads half a model."""
    partial = dst.with_suffix(".onnx.tmp")
    partial.write_bytes(src.read_bytes())
    os.replace(partial, dst)


def _embeddings(path: Path, crops: np.ndarray) -> np.ndarray:
    """The export's mirror-averaged unit embeddings of ``crops`` (all of them in one run)."""
    import onnxruntime as ort

    from gatekeeper.vision.onnx_encoder import run_export

    return run_export(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), crops, flip=True)


def _similarity_shift(ours: np.ndarray, full: np.ndarray, near: float) -> float:
    """How much lower an int8 probe scores against a full-precision template than the fp32 probe
    of the same face, averaged over the pairs of different calibration faces that score at least
    ``near`` (the region of the door's thresholds). Quantization noise is independent of the
    template, so it lowers every similarity a little: on LFW folds 1-5 the door's pair threshold
    accepted 9 of 1,239 fp32-accepted same-person pairs fewer before the thresholds moved."""
    templates = full @ full.T
    probes = ours @ full.T
    others = ~np.eye(len(full), dtype=bool) & (templates >= near)
    if others.sum() < 100:
        raise ValueError(f"only {int(others.sum())} calibration pairs score >= {near}: too few to measure the int8 shift")
    return float(np.mean(probes[others] - templates[others]))


def record_export(manifest: Path, export: Int8Export, source_sha256: str, faces_from: str) -> None:
    """Names the export in the model's manifest (written by rename)."""
    card = json.loads(manifest.read_text())
    card["onnx_int8"] = {
        "file": export.path.name, "sha256": export.sha256, "source_sha256": source_sha256, "runtime": "ONNX Runtime (CPU), static QDQ quantization: weights int8 per channel, activations uint8, the final projection float32",
        "calibration_faces": export.calibration_faces, "calibrated_on": faces_from,
        "cosine_to_fp32": {"min": round(export.cosine_min, 5), "mean": round(export.cosine_mean, 5)},
        "similarity_shift": round(export.similarity_shift, 5), "command": "gatekeeper train encoder-int8",
    }
    partial = manifest.with_suffix(".json.tmp")
    partial.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(partial, manifest)
