"""The encoder's int8 export run by ONNX Runtime (``encoder_precision = int8``): the door's
embeddings at about half the time of the torch encoder, in the same embedding space.

The file ``models/<name>-int8.onnx`` is built from the shipped weights by
``gatekeeper train encoder-int8`` (static quantization, calibrated on LFW faces of people in no
evaluation pair) and named in the model's manifest under ``onnx_int8`` with its sha256 and the
sha256 of the weights it was built from. It takes the aligned uint8 crops themselves
(preprocessing is inside the graph) and returns the raw descriptor; mirroring and the L2
normalisation happen here, as in ``encoder.FaceEncoder``. Enrollment keeps the torch encoder:
templates are made at full precision, door probes compared with them (bench/encoder_int8.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from gatekeeper.vision.align import AlignmentTemplate
from gatekeeper.vision.model_card import ModelCard, ModelFileError, embed_in_batches, file_digest, model_version, read_card
from gatekeeper.vision.model_files import DEFAULT_MODEL, resolve_model_path

EMBED_BATCH = 32


def door_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """An export under ONNX Runtime as the door runs it: ``threads`` intra-op threads (default 1),
    one inter-op thread, and no busy-waiting threads on a shared box."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_export(session: ort.InferenceSession, crops: np.ndarray, flip: bool) -> np.ndarray:
    """(N, S, S, 3) uint8 aligned crops -> (N, D) float32 unit vectors; ``flip``: each crop averaged
    with its mirror, both in one run."""
    batch = np.concatenate([crops, crops[:, :, ::-1]]) if flip else crops
    raw = session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(batch)})[0]
    if flip:
        raw = raw[: len(crops)] + raw[len(crops) :]
    return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)


class Int8FaceEncoder:
    """Batched embedding of aligned RGB crops with the int8 export of one model's weights; the
    interface of ``FaceEncoder`` (``embed``, ``embed_single``, ``dim``, ``template``, ``version``)."""

    precision = "int8"

    def __init__(self, model: str | Path = DEFAULT_MODEL, threads: int | None = None) -> None:
        weights = resolve_model_path(model)
        self.card: ModelCard = read_card(weights)
        export = self.card.onnx_int8
        if not export:
            raise ModelFileError(f"{weights.with_suffix('.json')}: no int8 export named (onnx_int8): run gatekeeper train encoder-int8")
        if export.get("source_sha256") != self.card.sha256:
            raise ModelFileError(f"{weights.with_suffix('.json')}: the int8 export was built from other weights than the manifest names: rebuild it (gatekeeper train encoder-int8)")
        path = weights.parent / export["file"]
        if not path.is_file() or file_digest(path) != export["sha256"]:
            raise ModelFileError(f"{path}: missing or not the file the manifest names (sha256)")
        # The version is the weights' (manifest sha256, checked against the export's source): an
        # int8 probe is compared with full-precision templates of the same model.
        self.version = model_version(self.card, str(self.card.sha256))
        # Quantization noise lowers every similarity a little (measured when the export was made):
        # the door's thresholds from the card move by as much (match/thresholds.py).
        self.similarity_shift = float(export.get("similarity_shift", 0.0))
        try:
            self._session = door_session(path, threads)
        except Exception as exc:  # any corruption must surface as one clear, fail-closed error
            raise ModelFileError(f"{path}: cannot load the int8 encoder ({exc})") from exc

    @property
    def dim(self) -> int:
        return self.card.embedding_dim

    @property
    def template(self) -> AlignmentTemplate:
        return self.card.template

    def embed(self, crops: np.ndarray, flip: bool | None = None) -> np.ndarray:
        """(N, S, S, 3) uint8 crops aligned on ``self.template`` -> (N, D) float32 unit vectors;
        ``flip``: average each crop with its mirror, in one run (None: as the manifest says)."""
        return embed_in_batches(self.card, crops, flip, EMBED_BATCH, self._embed_batch)

    def embed_single(self, crops: np.ndarray) -> np.ndarray:
        return self.embed(crops, flip=False)

    def _embed_batch(self, crops: np.ndarray, flip: bool) -> np.ndarray:
        return run_export(self._session, crops, flip)
