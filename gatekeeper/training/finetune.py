"""`gatekeeper train run`: fine-tune the ported ResNet with triplet loss and hard-negative mining.

Per step, on a P x K batch of identities (pytorch-metric-learning's ``MPerClassSampler`` idea,
drawn here from the cached pool):

    triplet(mined triplets)  +  keep_close * mean(1 - cos(embedding, port's embedding))

The miner is batch-hard (each anchor's farthest positive and closest negative) or semi-hard
(negatives inside the margin but beyond the positive). The keep-close term anchors the new
embeddings to the ported network's, so ~18 k photos refine dlib's ~3 M-face geometry rather than
overwrite it. The frozen trunk's output is cached (``features.py``); only the later levels train.
Checkpoints every ``checkpoint_every`` steps (tensors only, loadable with ``weights_only=True``);
``--resume`` continues from the last one.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses, miners
from rich.console import Console

from gatekeeper.vision.encoders.resnet29 import FaceResNet29
from gatekeeper.training.features import FROZEN_BLOCKS

console = Console()
MINERS = ("batch-hard", "semi-hard")


@dataclass
class FineTuneConfig:
    run_dir: Path
    holdout: str
    steps: int = 600
    p: int = 32
    k: int = 4
    lr: float = 5e-5
    margin: float = 0.1
    miner: str = "batch-hard"
    keep_close: float = 1.0  # 0 disables the term
    negatives: int = 0  # unlabelled faces (UTKFace) added to each batch as negatives only
    threads: int = 2
    seed: int = 0
    checkpoint_every: int = 100
    notes: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.miner not in MINERS:
            raise ValueError(f"miner must be one of {MINERS}, not {self.miner!r}")
        if self.keep_close < 0 or self.margin <= 0 or self.lr <= 0 or self.steps <= 0 or self.negatives < 0:
            raise ValueError("keep_close and negatives must be >= 0; margin, lr and steps > 0")


@dataclass
class TrainingFeatures:
    features: np.ndarray  # (N, 2, 128, 8, 8) fp16: trunk output, original and mirror
    identity: np.ndarray  # (N,) int, every identity with >= 2 photos
    port: np.ndarray  # (N, 2, 128) the ported network's embeddings of the same faces
    # Unlabelled faces, each most likely its own person: never a positive, only a negative that
    # the miner may pick (children and the elderly, whom adult-trained encoders confuse most).
    negatives: np.ndarray | None = None  # (M, 2, 128, 8, 8)
    negatives_port: np.ndarray | None = None  # (M, 2, 128)

    def groups(self) -> list[np.ndarray]:
        order = np.argsort(self.identity, kind="stable")
        _, starts = np.unique(self.identity[order], return_index=True)
        return np.split(order, starts[1:])


class Objective:
    """Mined triplet loss plus the keep-close term; reports the share of active triplets."""

    def __init__(self, cfg: FineTuneConfig) -> None:
        self.cfg = cfg
        self.loss = losses.TripletMarginLoss(margin=cfg.margin)
        if cfg.miner == "semi-hard":
            self.miner: miners.BaseMiner = miners.TripletMarginMiner(margin=cfg.margin, type_of_triplets="semihard")
        else:
            self.miner = miners.BatchHardMiner()

    def __call__(self, emb: torch.Tensor, labels: torch.Tensor, port: torch.Tensor) -> dict[str, torch.Tensor]:
        triplets = self.miner(emb, labels)
        metric = self.loss(emb, labels, triplets)
        keep = (1 - (emb * port).sum(dim=1)).mean()
        return {"loss": metric + self.cfg.keep_close * keep, "triplet": metric.detach(), "keep": keep.detach(), "mined": torch.tensor(float(len(triplets[0])))}


def finetune(cfg: FineTuneConfig, port: FaceResNet29, data: TrainingFeatures, resume: bool = False) -> FaceResNet29:
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    net = copy.deepcopy(port).train()
    trainable = [p for name, p in net.named_parameters() if _is_trainable(name)]
    for name, p in net.named_parameters():
        p.requires_grad_(_is_trainable(name))
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    (cfg.run_dir / "config.json").write_text(json.dumps(asdict(cfg), default=str, indent=2))
    start = resume_from(cfg.run_dir, net, opt, sched) if resume else 0
    groups, objective = data.groups(), Objective(cfg)
    if len(groups) < cfg.p:
        raise ValueError(f"only {len(groups)} identities with 2+ photos; P={cfg.p} needs more")
    rng = np.random.default_rng(cfg.seed + start)
    t0, log = time.time(), []
    for step in range(start, cfg.steps):
        feats, labels, target = _batch(rng, data, groups, cfg)
        out = objective(net.head(feats, FROZEN_BLOCKS), labels, target)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        sched.step()
        log.append({k: float(v.detach()) for k, v in out.items()})
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            _report(step + 1, cfg.steps, log, time.time() - t0)
            _checkpoint(cfg.run_dir, net, opt, sched, step + 1)
            log = []
    return net.eval()


def _is_trainable(name: str) -> bool:
    if name.startswith("fc."):
        return True
    return name.startswith("blocks.") and int(name.split(".")[1]) >= FROZEN_BLOCKS


def _batch(rng: np.random.Generator, data: TrainingFeatures, groups: list[np.ndarray], cfg: FineTuneConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Trunk features, labels and the port's embeddings of one P x K batch (+ negatives)."""
    idx, labels, flips = _sample(rng, groups, cfg.p, cfg.k)
    feats, port = [data.features[idx, flips]], [data.port[idx, flips]]
    if cfg.negatives and data.negatives is not None and data.negatives_port is not None:
        neg = rng.choice(len(data.negatives), cfg.negatives, replace=False)
        neg_flips = rng.integers(0, 2, len(neg))
        feats.append(data.negatives[neg, neg_flips])
        port.append(data.negatives_port[neg, neg_flips])
        labels = np.concatenate([labels, cfg.p + np.arange(len(neg))])  # each its own identity
    target = F.normalize(torch.from_numpy(np.concatenate(port)).float(), dim=1)
    return torch.from_numpy(np.concatenate(feats)).float(), torch.from_numpy(labels), target


def _sample(rng: np.random.Generator, groups: list[np.ndarray], p: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P identities x K photos (with replacement only for identities with fewer than K), random mirror."""
    chosen = rng.choice(len(groups), p, replace=False)
    idx = np.concatenate([rng.choice(groups[g], k, replace=len(groups[g]) < k) for g in chosen])
    labels = np.repeat(np.arange(p), k)
    return idx, labels, rng.integers(0, 2, len(idx))


def _report(step: int, total: int, log: list[dict[str, float]], seconds: float) -> None:
    mean = {k: float(np.mean([row[k] for row in log])) for k in log[0]}
    console.print(f"step {step}/{total}  loss {mean['loss']:.4f}  triplet {mean['triplet']:.4f}  keep-close {mean['keep']:.4f}  mined {mean['mined']:.0f}  {seconds:.0f}s", highlight=False)


def _checkpoint(run_dir: Path, net: FaceResNet29, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler, step: int) -> None:
    tmp = run_dir / "checkpoint.pt.tmp"
    torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": torch.tensor(step)}, tmp)
    tmp.replace(run_dir / "checkpoint.pt")


def resume_from(run_dir: Path, net: FaceResNet29, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler) -> int:
    path = run_dir / "checkpoint.pt"
    if not path.exists():
        return 0
    # weights_only: a checkpoint is data, never code (a crafted pickle cannot run anything here).
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state["net"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    step = int(state["step"])
    console.print(f"resumed {run_dir} at step {step}")
    return step
