"""`gatekeeper train`: triplet loss with online hard-negative mining, plus optional distillation.

The objective per batch is

    triplet(mined triplets of the P x K part)  +  lambda * (1 - cos(student, teacher))

The triplet term (pytorch-metric-learning's loss and miner) is always on. The distillation term
pulls each embedding towards dlib's CC0 face descriptor of the same photo, cached beforehand; the
teacher is never part of the shipped product.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses, miners
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from gatekeeper.network import DoorNet, preprocess
from gatekeeper.training.augment import augment
from gatekeeper.training.batches import PKBatches, TrainingPool

console = Console()


@dataclass
class TrainConfig:
    run_dir: Path
    epochs: int = 12
    steps_per_epoch: int = 200
    p: int = 32
    k: int = 4
    u: int = 64
    lr: float = 3e-3
    weight_decay: float = 5e-4
    loss: str = "triplet"  # triplet | ntxent
    miner: str = "batch-hard"  # batch-hard | semi-hard
    margin: float = 0.2
    distill: float = 1.0  # weight of the teacher term; 0 disables distillation
    input_size: int = 64
    width: int = 48
    embedding_dim: int = 128
    threads: int = 2
    augment: bool = True
    seed: int = 0
    notes: dict[str, object] = field(default_factory=dict)


@dataclass
class EpochStats:
    epoch: int
    loss: float
    triplet: float
    distill: float
    active_triplets: float
    spread: float
    seconds: float


class Objective:
    """Triplet (or NT-Xent) loss on mined tuples plus the teacher term; reports its health."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        if cfg.loss == "ntxent":
            self.metric_loss: losses.BaseMetricLossFunction = losses.NTXentLoss(temperature=0.07)
        else:
            self.metric_loss = losses.TripletMarginLoss(margin=cfg.margin)
        if cfg.miner == "semi-hard":
            self.miner: miners.BaseMiner = miners.TripletMarginMiner(margin=cfg.margin, type_of_triplets="semihard")
        else:
            self.miner = miners.BatchHardMiner()

    def __call__(self, emb: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor) -> dict[str, torch.Tensor]:
        labelled = labels >= 0
        e, y = emb[labelled], labels[labelled]
        tuples = self.miner(e, y)
        metric = self.metric_loss(e, y, tuples) if self.cfg.loss != "ntxent" else self.metric_loss(e, y)
        has_teacher = torch.isfinite(teacher).all(dim=1)
        distill = torch.zeros(())
        if self.cfg.distill > 0 and has_teacher.any():
            target = F.normalize(teacher[has_teacher], dim=1)
            distill = (1 - (emb[has_teacher] * target).sum(1)).mean()
        return {
            "loss": metric + self.cfg.distill * distill,
            "triplet": metric.detach(),
            "distill": distill.detach(),
            "active": self._active_fraction(e.detach(), tuples),
        }

    def _active_fraction(self, e: torch.Tensor, tuples: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Share of mined triplets that still violate the margin (0 = nothing left to learn)."""
        if len(tuples) != 3 or len(tuples[0]) == 0:
            return torch.zeros(())
        a, p, n = tuples
        d_ap = (e[a] - e[p]).norm(dim=1)
        d_an = (e[a] - e[n]).norm(dim=1)
        return (d_ap - d_an + self.cfg.margin > 0).float().mean()


def spread(emb: torch.Tensor) -> float:
    """Per-dimension std scaled by sqrt(D): about 1 for embeddings spread over the sphere, 0 on collapse."""
    return float(emb.std(dim=0).mean() * math.sqrt(emb.shape[1]))


def train(cfg: TrainConfig, pool: TrainingPool, resume: bool = False, probe: tuple[np.ndarray, np.ndarray] | None = None) -> DoorNet:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    net = DoorNet(cfg.input_size, cfg.embedding_dim, cfg.width)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = cfg.epochs * cfg.steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=0.1)
    batches = PKBatches(pool, cfg.p, cfg.k, cfg.u, cfg.seed)
    objective = Objective(cfg)
    start_epoch = _resume(cfg.run_dir, net, opt, sched, batches) if resume else 0
    gen = torch.Generator().manual_seed(cfg.seed + start_epoch)
    crops = torch.from_numpy(pool.crops)
    teacher_all = torch.from_numpy(pool.teacher)
    (cfg.run_dir / "config.json").write_text(json.dumps(asdict(cfg), default=str, indent=2))
    for epoch in range(start_epoch, cfg.epochs):
        stats = _run_epoch(epoch, cfg, net, opt, sched, batches, objective, crops, teacher_all, gen)
        console.print(
            f"epoch {stats.epoch + 1:2d}/{cfg.epochs}  loss {stats.loss:.4f}  triplet {stats.triplet:.4f}  "
            f"distill {stats.distill:.4f}  active {stats.active_triplets:.1%}  spread {stats.spread:.2f}  "
            f"lr {sched.get_last_lr()[0]:.1e}  {stats.seconds:.0f}s"
        )
        with (cfg.run_dir / "history.jsonl").open("a") as fh:
            fh.write(json.dumps(asdict(stats)) + "\n")
        _checkpoint(cfg.run_dir, net, opt, sched, batches, epoch)
        if probe is not None:
            from gatekeeper.training.pictures import plot_epoch_embeddings

            plot_epoch_embeddings(net, cfg.input_size, probe, cfg.run_dir / f"embeddings-epoch{epoch + 1:02d}.png", epoch + 1)
    net.eval()
    return net


def _run_epoch(epoch, cfg, net, opt, sched, batches, objective, crops, teacher_all, gen) -> EpochStats:  # type: ignore[no-untyped-def]
    net.train()
    sums = {"loss": 0.0, "triplet": 0.0, "distill": 0.0, "active": 0.0, "spread": 0.0}
    began = time.time()
    with Progress(TextColumn(f"epoch {epoch + 1}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task("train", total=cfg.steps_per_epoch)
        for _ in range(cfg.steps_per_epoch):
            idx, labels = batches.sample()
            x = preprocess(crops[idx], cfg.input_size)
            x = augment(x, gen) if cfg.augment else x
            emb = net(x)
            out = objective(emb, torch.from_numpy(labels), teacher_all[idx])
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            sched.step()
            for key in ("loss", "triplet", "distill", "active"):
                sums[key] += float(out[key].detach())
            sums["spread"] += spread(emb.detach())
            bar.advance(task)
    n = cfg.steps_per_epoch
    return EpochStats(epoch, sums["loss"] / n, sums["triplet"] / n, sums["distill"] / n, sums["active"] / n, sums["spread"] / n, time.time() - began)


def _checkpoint(run_dir: Path, net, opt, sched, batches: PKBatches, epoch: int) -> None:  # type: ignore[no-untyped-def]
    tmp = run_dir / "checkpoint.pt.tmp"
    torch.save(
        {"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "epoch": epoch, "rng": batches.rng.bit_generator.state},
        tmp,
    )
    tmp.replace(run_dir / "checkpoint.pt")  # atomic: a kill mid-save leaves the previous checkpoint


def _resume(run_dir: Path, net, opt, sched, batches: PKBatches) -> int:  # type: ignore[no-untyped-def]
    path = run_dir / "checkpoint.pt"
    if not path.exists():
        console.print(f"[yellow]no checkpoint in {run_dir}; starting from scratch")
        return 0
    state = torch.load(path, map_location="cpu", weights_only=False)
    net.load_state_dict(state["net"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    batches.rng.bit_generator.state = state["rng"]
    console.print(f"resumed {run_dir} after epoch {state['epoch'] + 1}")
    return int(state["epoch"]) + 1


def embed_crops(net: DoorNet, crops: np.ndarray, input_size: int, batch: int = 512, flip: bool = True) -> np.ndarray:
    """Evaluation-time embedding, identical to the product encoder's (flip-averaged)."""
    net.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(crops), batch):
            x = preprocess(torch.from_numpy(crops[i : i + batch]), input_size)
            e = net(x)
            if flip:
                e = F.normalize(e + net(x.flip(3)), dim=1)
            out.append(e.numpy())
    return np.concatenate(out) if out else np.zeros((0, net.embedding_dim), np.float32)


def export(net: DoorNet, cfg: TrainConfig, path: Path, card: dict[str, object]) -> None:
    """Write ``<name>.pt`` (weights only, loadable with weights_only=True) and ``<name>.json``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".pt.tmp")
    torch.save({"state_dict": net.state_dict()}, tmp)
    tmp.replace(path)
    meta = {
        "name": path.stem,
        "architecture": {"family": "DoorNet (MobileFaceNet-style)", "input_size": cfg.input_size, "width": cfg.width, "embedding_dim": cfg.embedding_dim, "alignment": "5-point similarity to the ArcFace 112x112 template"},
        "flip_average": True,
        "training": {k: v for k, v in asdict(cfg).items() if k not in ("run_dir",)},
        **card,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
