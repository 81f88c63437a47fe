"""Training: the miner picks the hard negatives, and a few steps on real faces lower the loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gatekeeper.network import DoorNet, preprocess
from gatekeeper.training.batches import TrainingPool
from gatekeeper.training.train import Objective, TrainConfig, spread, train
from tests.conftest import lfw_people


def _unit(*rows: list[float]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=1)


def test_batch_hard_miner_returns_the_hardest_negative() -> None:
    # Two identities; anchor 0's closest impostor is sample 3 (almost on top of it).
    emb = _unit([1, 0, 0], [0.9, 0.3, 0], [0, 1, 0], [0.98, 0.05, 0.1], [0, 0, 1])
    labels = torch.tensor([0, 0, 1, 1, 1])
    objective = Objective(TrainConfig(run_dir=Path("unused")))
    anchors, positives, negatives = objective.miner(emb, labels)
    i = int((anchors == 0).nonzero()[0])
    assert int(positives[i]) == 1
    assert int(negatives[i]) == 3
    out = objective(emb, labels, torch.full((5, 128), float("nan")))
    assert float(out["active"]) > 0  # anchor 0 violates the margin with its hard negative


def test_semi_hard_miner_keeps_only_semi_hard_triplets() -> None:
    emb = _unit([1, 0, 0], [0.95, 0.3, 0], [0.9, 0.42, 0.1], [0, 1, 0], [0, 0, 1])
    labels = torch.tensor([0, 0, 1, 1, 1])
    objective = Objective(TrainConfig(run_dir=Path("unused"), miner="semi-hard", margin=0.2))
    a, p, n = objective.miner(emb, labels)
    d = torch.cdist(emb, emb)
    assert len(a) > 0
    assert torch.all(d[a, n] > d[a, p]) and torch.all(d[a, n] < d[a, p] + 0.2)


def test_spread_detects_collapse() -> None:
    spread_out = F.normalize(torch.randn(256, 128, generator=torch.Generator().manual_seed(0)), dim=1)
    collapsed = F.normalize(torch.ones(256, 128) + 1e-3 * spread_out, dim=1)
    assert spread(spread_out) > 0.8
    assert spread(collapsed) < 0.05


def test_a_few_steps_on_real_faces_lower_the_loss(lfw: Path, tmp_path: Path) -> None:
    from gatekeeper.training.facecache import build_shard, load_cache

    people = lfw_people(lfw, count=8, min_photos=6)
    photos = [str(p.relative_to(lfw)) for _, ps in people for p in ps[:6]]
    build_shard(str(lfw), photos, str(tmp_path / "cache" / "shard-00000.npz"))
    cache = load_cache(tmp_path / "cache")
    ids = np.unique(cache.labels, return_inverse=True)[1]
    pool = TrainingPool(cache.crops, ids, np.full((len(ids), 128), np.nan, np.float32))
    cfg = TrainConfig(run_dir=tmp_path / "run", epochs=3, steps_per_epoch=10, p=8, k=4, u=0, lr=3e-3, width=16, distill=0.0, threads=2, augment=False)
    torch.manual_seed(cfg.seed)  # the same initial weights train() starts from
    before = _clean_loss(DoorNet(cfg.input_size, cfg.embedding_dim, cfg.width), cache.crops, ids, cfg)
    after = _clean_loss(train(cfg, pool), cache.crops, ids, cfg)
    assert after < before * 0.7, f"triplet loss did not fall: {before:.4f} -> {after:.4f}"
    assert len((tmp_path / "run" / "history.jsonl").read_text().splitlines()) == cfg.epochs
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def _clean_loss(net: DoorNet, crops: np.ndarray, ids: np.ndarray, cfg: TrainConfig) -> float:
    """Batch-hard triplet loss over the whole tiny set, without augmentation.

    BatchNorm uses the batch's own statistics: after a few dozen steps its running averages still
    lag the fast-moving weights, which would measure the lag rather than what was learned."""
    net.train()
    net.head[1].eval()  # dropout off
    with torch.no_grad():
        emb = net(preprocess(torch.from_numpy(crops), cfg.input_size))
    labels = torch.from_numpy(ids)
    return float(Objective(cfg)(emb, labels, torch.full((len(ids), 128), float("nan")))["triplet"])
