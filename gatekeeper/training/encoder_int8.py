"""The int8 export of the shipped encoder (`gatekeeper train encoder-int8`), which the door runs
with ``encoder_precision = int8`` (``vision/onnx_encoder.py``).

The torch network, with its input preprocessing, is exported to ONNX (uint8 crops in, the raw
descriptor out) and quantized statically by ONNX Runtime: weights int8 per output channel,
activations uint8 with ranges measured on aligned faces (and their mirrors) of LFW people in no
evaluation pair. The file is named in the model's manifest (``onnx_int8``) with its sha256, the
sha256 of the weights it came from and its agreement with them on the calibration faces.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gatekeeper.vision.encoder import FaceEncoder
from gatekeeper.vision.model_card import file_digest

CALIBRATION_BATCH = 8


class CropsToDescriptor(nn.Module):
    """(N, S, S, 3) uint8 aligned crops -> (N, D) raw descriptor: the graph the export holds."""

    def __init__(self, encoder: FaceEncoder) -> None:
        super().__init__()
        self.net, self.preprocess = encoder.net, encoder.family.preprocess

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.net(self.preprocess(self.net, crops.permute(0, 3, 1, 2)))


@dataclass(frozen=True)
class Int8Export:
    path: Path
    sha256: str
    calibration_faces: int
    cosine_min: float  # int8 vs float32 embedding (mirror-averaged) on the calibration faces
    cosine_mean: float


def export_int8(encoder: FaceEncoder, crops: np.ndarray, out: Path) -> Int8Export:
    """Writes the int8 model for ``encoder`` to ``out``, its activation ranges measured on ``crops``."""
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
        quantize_static(str(prepared), str(quantized), Faces(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
        _move(quantized, out)
    cosine = _agreement(encoder, out, crops)
    return Int8Export(out, file_digest(out), len(crops), float(cosine.min()), float(cosine.mean()))


def _move(src: Path, dst: Path) -> None:
    """Into place by rename from beside ``dst`` (the temporary folder may be another file
    system): the door never reads half a model."""
    partial = dst.with_suffix(".onnx.tmp")
    partial.write_bytes(src.read_bytes())
    os.replace(partial, dst)


def _agreement(encoder: FaceEncoder, path: Path, crops: np.ndarray) -> np.ndarray:
    """Cosine of int8 and float32 mirror-averaged embeddings of each crop."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    raw = session.run(None, {"crops": np.ascontiguousarray(np.concatenate([crops, crops[:, :, ::-1]]))})[0]
    raw = raw[: len(crops)] + raw[len(crops) :]
    ours = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    return np.sum(ours * encoder.embed(crops, flip=True), axis=1)


def record_export(manifest: Path, export: Int8Export, source_sha256: str, faces_from: str) -> None:
    """Names the export in the model's manifest (written by rename)."""
    card = json.loads(manifest.read_text())
    card["onnx_int8"] = {
        "file": export.path.name, "sha256": export.sha256, "source_sha256": source_sha256, "runtime": "ONNX Runtime (CPU), static QDQ quantization: weights int8 per channel, activations uint8",
        "calibration_faces": export.calibration_faces, "calibrated_on": faces_from,
        "cosine_to_fp32": {"min": round(export.cosine_min, 5), "mean": round(export.cosine_mean, 5)}, "command": "gatekeeper train encoder-int8",
    }
    partial = manifest.with_suffix(".json.tmp")
    partial.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(partial, manifest)
