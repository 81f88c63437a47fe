"""MiniFASNet: the passive anti-spoofing network of Minivision's Silent-Face-Anti-Spoofing
(Apache-2.0), written here from the structure its published state dicts imply.

A MobileFaceNet-like trunk on an 80x80 crop: a stem (3x3 conv, 3x3 depthwise), three stride-2
bottlenecks (1x1 expand, 3x3 depthwise, linear 1x1 project), each followed by a stage of residual
bottlenecks (4, 6 and 2), then a 1x1 conv to 512 channels, a 5x5 depthwise conv over the whole 5x5
map, a linear layer to 128, batch norm and a 3-class head. The SE variant puts a squeeze-excite
gate on the last block of each stage. Every width is read from the state dict (the pruned
networks' widths differ block by block), so the same code builds both published models.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

STAGES = ("conv_3", "conv_4", "conv_5")
TRANSITIONS = ("conv_23", "conv_34", "conv_45")


def _conv_bn(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, prelu: bool = True) -> nn.Module:
    layers = nn.Sequential()
    layers.add_module("conv", nn.Conv2d(cin, cout, k, stride, padding=k // 2 if k == 3 else 0, groups=groups, bias=False))
    layers.add_module("bn", nn.BatchNorm2d(cout))
    if prelu:
        layers.add_module("prelu", nn.PReLU(cout))
    return layers


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = x.mean(dim=(2, 3), keepdim=True)
        gate = torch.relu(self.bn1(self.fc1(gate)))
        return x * torch.sigmoid(self.bn2(self.fc2(gate)))


class Bottleneck(nn.Module):
    """1x1 expand -> 3x3 depthwise (stride) -> linear 1x1 project; residual when stride 1."""

    def __init__(self, cin: int, hidden: int, cout: int, stride: int, residual: bool, se_hidden: int | None = None) -> None:
        super().__init__()
        self.conv = _conv_bn(cin, hidden)
        self.conv_dw = _conv_bn(hidden, hidden, 3, stride, groups=hidden)
        self.project = _conv_bn(hidden, cout, prelu=False)
        self.se_module = SqueezeExcite(cout, se_hidden) if se_hidden else None
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        if self.se_module is not None:
            y = self.se_module(y)
        return x + y if self.residual else y


class Stage(nn.Module):
    def __init__(self, blocks: list[Bottleneck]) -> None:
        super().__init__()
        self.model = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MiniFASNet(nn.Module):
    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        width = lambda key: int(state[key].shape[0])  # noqa: E731
        self.conv1 = _conv_bn(3, width("conv1.conv.weight"), 3, 2)
        self.conv2_dw = _conv_bn(width("conv1.conv.weight"), width("conv2_dw.conv.weight"), 3, 1, groups=width("conv1.conv.weight"))
        for transition, stage in zip(TRANSITIONS, STAGES):
            setattr(self, transition, _bottleneck(state, transition, stride=2, residual=False))
            count = 1 + max(int(k.split(".")[2]) for k in state if k.startswith(f"{stage}.model."))
            setattr(self, stage, Stage([_bottleneck(state, f"{stage}.model.{i}", 1, True) for i in range(count)]))
        self.conv_6_sep = _conv_bn(int(state["conv_6_sep.conv.weight"].shape[1]), width("conv_6_sep.conv.weight"))
        dw = state["conv_6_dw.conv.weight"]
        self.conv_6_dw = nn.Sequential()
        self.conv_6_dw.add_module("conv", nn.Conv2d(dw.shape[0], dw.shape[0], dw.shape[2], groups=dw.shape[0], bias=False))
        self.conv_6_dw.add_module("bn", nn.BatchNorm2d(dw.shape[0]))
        self.linear = nn.Linear(int(state["linear.weight"].shape[1]), width("linear.weight"), bias=False)
        self.bn = nn.BatchNorm1d(width("linear.weight"))
        self.prob = nn.Linear(width("linear.weight"), width("prob.weight"), bias=False)
        self.load_state_dict(state)
        self.eval()
        _fold_batch_norms(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits for (N, 3, 80, 80) crops."""
        x = self.conv2_dw(self.conv1(x))
        for transition, stage in zip(TRANSITIONS, STAGES):
            x = getattr(self, stage)(getattr(self, transition)(x))
        x = self.conv_6_dw(self.conv_6_sep(x)).flatten(1)
        return self.prob(self.bn(self.linear(x)))


def _fold_batch_norms(module: nn.Module) -> None:
    """Fold every inference-time batch norm into the convolution or linear layer before it (the
    same outputs, about 40 % less time on a CPU)."""
    for child in module.children():
        _fold_batch_norms(child)
    if isinstance(module, nn.Sequential) and isinstance(getattr(module, "bn", None), nn.BatchNorm2d):
        module.conv = fuse_conv_bn_eval(module.conv, module.bn)
        module.bn = nn.Identity()
    if isinstance(module, SqueezeExcite):
        module.fc1, module.bn1 = fuse_conv_bn_eval(module.fc1, module.bn1), nn.Identity()
        module.fc2, module.bn2 = fuse_conv_bn_eval(module.fc2, module.bn2), nn.Identity()
    if isinstance(module, MiniFASNet):
        module.linear, module.bn = fuse_linear_bn_eval(module.linear, module.bn), nn.Identity()


def _bottleneck(state: dict[str, torch.Tensor], prefix: str, stride: int, residual: bool) -> Bottleneck:
    expand = state[f"{prefix}.conv.conv.weight"]
    project = state[f"{prefix}.project.conv.weight"]
    se = state.get(f"{prefix}.se_module.fc1.weight")
    return Bottleneck(int(expand.shape[1]), int(expand.shape[0]), int(project.shape[0]), stride, residual, int(se.shape[0]) if se is not None else None)


def export_onnx(state: dict[str, torch.Tensor], out: Path) -> None:
    """The network as ONNX (batch size free), for OpenCV's DNN runtime at the door: the same
    outputs to 1e-6, a third of torch's time on these small depthwise layers (bench/frame_latency.py)."""
    example = torch.zeros(1, 3, 80, 80)
    torch.onnx.export(MiniFASNet(state), example, str(out), dynamo=False, input_names=["crops"], output_names=["logits"],
                      dynamic_axes={"crops": {0: "n"}, "logits": {0: "n"}}, opset_version=13)


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A published state dict, with the ``module.`` prefix of its DataParallel training removed."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k.removeprefix("module."): v for k, v in state.items()}
