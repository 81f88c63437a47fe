"""Read dlib's serialized face-descriptor network (``dlib_face_recognition_resnet_model_v1.dat``).

Pure Python, no dlib: this is how the project turns dlib's public-domain (CC0) ResNet into its own
PyTorch weights. Only the format pieces that network uses are understood; anything else raises
``DlibFormatError`` naming the offset, so a different file can never be half-read silently.

dlib's binary format, as the network file uses it:
- an integer is a control byte (low 4 bits: how many bytes follow, bit 7: negative) and then the
  magnitude in little-endian order;
- a string is an integer length and then its bytes; a bool is the byte ``'0'`` or ``'1'``;
- a float or double is an integer mantissa and an integer exponent (value = m * 2**e);
- a tensor is version 2, four sizes, then raw little-endian float32 values.
A network is written outermost layer first, but each layer writes its sub-network *before* its own
details, so the file is a run of version numbers (one per layer, outermost first), the input layer,
and then the layers' details from the input towards the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gatekeeper.errors import InputError


class DlibFormatError(InputError):
    """The file is not a dlib network this reader understands."""


@dataclass
class DlibLayer:
    """One computational layer, in input-to-output order."""

    kind: str  # "con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc"
    params: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    meta: dict[str, float] = field(default_factory=dict)


@dataclass
class DlibNetwork:
    input_mean_rgb: tuple[float, float, float]
    input_size: int
    layers: list[DlibLayer]
    # One entry per wrapper, outermost first: "layer", "tag_or_skip" or "input_layer".
    wrappers: list[str]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(f"offset {self.pos}: {what}")

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def peek(self) -> int:
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def integer(self) -> int:
        control = self.byte()
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte 0x{control:02x}")
        raw = self.take(size)
        value = int.from_bytes(raw, "little")
        return -value if control & 0x80 else value

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise self.fail(f"wanted {n} bytes, file ends")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def string(self) -> str:
        n = self.integer()
        if not 0 <= n <= 256:
            raise self.fail(f"implausible string length {n}")
        return self.take(n).decode("ascii")

    def boolean(self) -> bool:
        b = self.byte()
        if b not in (ord("0"), ord("1")):
            raise self.fail(f"bad bool byte 0x{b:02x}")
        return b == ord("1")

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        return float(mantissa) * 2.0**exponent

    def tensor(self) -> np.ndarray:
        if (version := self.integer()) != 2:
            raise self.fail(f"tensor version {version}, expected 2")
        shape = [self.integer() for _ in range(4)]
        count = int(np.prod(shape))
        return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32)

    def alias_tensor(self) -> tuple[int, ...]:
        if (version := self.integer()) != 1:
            raise self.fail(f"alias tensor version {version}, expected 1")
        return tuple(self.integer() for _ in range(4))


def _con(r: _Reader, version: str) -> DlibLayer:
    params = r.tensor()
    filters, nr, nc, sy, sx, py, px = (r.integer() for _ in range(7))
    r.alias_tensor(), r.alias_tensor()
    for _ in range(4):
        r.real()  # learning-rate and weight-decay multipliers: training only
    use_bias = r.boolean() if version in ("con_5", "con_6") else True
    if version == "con_6":
        r.boolean()  # use_relu: a fused-relu flag, never set in this network
    meta = {"filters": filters, "nr": nr, "nc": nc, "stride": sy, "padding": py, "bias": float(use_bias)}
    if sy != sx or py != px or nr != nc:
        raise r.fail("only square kernels with equal strides/padding are supported")
    return DlibLayer("con", params, meta)


def _affine(r: _Reader, version: str) -> DlibLayer:
    params = r.tensor()
    gamma = r.alias_tensor()
    r.alias_tensor()
    r.integer()  # mode: per-channel (conv) or per-element (fc)
    if version == "affine_2":
        r.boolean()  # disabled
    return DlibLayer("affine", params, {"channels": int(np.prod(gamma))})


def _pool(kind: str):  # type: ignore[no-untyped-def]
    def read(r: _Reader, version: str) -> DlibLayer:
        nr, nc, sy, sx, py, px = (r.integer() for _ in range(6))
        return DlibLayer(kind, meta={"nr": nr, "nc": nc, "stride": sy, "padding": py})

    return read


def _relu(r: _Reader, version: str) -> DlibLayer:
    if version == "relu_2":
        r.boolean()
    return DlibLayer("relu")


def _add_prev(r: _Reader, version: str) -> DlibLayer:
    return DlibLayer("add_prev")


def _fc(r: _Reader, version: str) -> DlibLayer:
    outputs, inputs = r.integer(), r.integer()
    params = r.tensor()
    r.alias_tensor(), r.alias_tensor()
    bias_mode = r.integer()
    for _ in range(4):
        r.real()
    if version == "fc_3":
        r.boolean()
    return DlibLayer("fc", params, {"outputs": outputs, "inputs": inputs, "bias": float(bias_mode == 0)})


_DETAILS = {
    "con_4": _con, "con_5": _con, "con_6": _con,
    "affine_": _affine, "affine_2": _affine,
    "relu_": _relu, "relu_2": _relu,
    "max_pool_2": _pool("max_pool"), "avg_pool_2": _pool("avg_pool"),
    "add_prev_": _add_prev,
    "fc_2": _fc, "fc_3": _fc,
}


def read_dlib_network(path: Path) -> DlibNetwork:
    """Parse the whole file; raises ``DlibFormatError`` on anything unexpected."""
    r = _Reader(Path(path).read_bytes())
    if r.integer() != 1:
        raise r.fail("not a dlib loss-layer network")
    if (loss := r.string()) != "loss_metric_2":
        raise r.fail(f"loss layer {loss!r}, expected loss_metric_2")
    r.real(), r.real()  # margin and distance threshold of dlib's training loss
    wrappers = _wrapper_versions(r)
    mean, size = _input_layer(r)
    layers = []
    for i, wrapper in enumerate(reversed(wrappers[:-1])):
        if wrapper != "layer":
            continue  # tags and skips carry no details
        version = r.string()
        if version not in _DETAILS:
            raise r.fail(f"unsupported layer {version!r}")
        layers.append(_DETAILS[version](r, version))
        _layer_trailer(r, over_input=(i == 0))
    if r.pos != len(r.data):
        raise r.fail(f"{len(r.data) - r.pos} unread bytes at the end")
    return DlibNetwork(mean, size, layers, wrappers)


def _wrapper_versions(r: _Reader) -> list[str]:
    """Versions 2 (a layer), 1 (a tag or skip) until version 3 (the layer on the input)."""
    kinds = {2: "layer", 1: "tag_or_skip"}
    out = []
    while True:
        version = r.integer()
        if version == 3:
            return out + ["layer", "input_layer"]
        if version not in kinds:
            raise r.fail(f"unexpected layer wrapper version {version}")
        out.append(kinds[version])


def _input_layer(r: _Reader) -> tuple[tuple[float, float, float], int]:
    if (name := r.string()) != "input_rgb_image_sized":
        raise r.fail(f"input layer {name!r}, expected input_rgb_image_sized")
    mean = (r.real(), r.real(), r.real())
    rows, cols = r.integer(), r.integer()
    if rows != cols:
        raise r.fail(f"non-square input {rows}x{cols}")
    return mean, rows


def _layer_trailer(r: _Reader, over_input: bool) -> None:
    """State dlib stores after each layer's details (flags, gradient buffers): read and dropped."""
    for _ in range(3):
        r.boolean()
    for _ in range(3):
        r.tensor()
    if over_input:
        r.integer()  # sample expansion factor (wrapper version 3)
