"""Fine-tuning: the miners pick the hard negatives, and a few steps on real faces lower the loss
while the keep-close term holds the embeddings near the port's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("pytorch_metric_learning", reason="fine-tuning needs the train extra: pip install -e '.[train]'")

from gatekeeper.training.finetune import FineTuneConfig, Objective, TrainingFeatures, finetune
from tests.conftest import lfw_people


def _unit(*rows: list[float]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=1)


def test_batch_hard_miner_returns_the_hardest_negative() -> None:
    # Two identities; anchor 0's closest impostor is sample 3 (almost on top of it).
    emb = _unit([1, 0, 0], [0.9, 0.3, 0], [0, 1, 0], [0.98, 0.05, 0.1], [0, 0, 1])
    labels = torch.tensor([0, 0, 1, 1, 1])
    objective = Objective(FineTuneConfig(run_dir=Path("unused"), holdout="A"))
    anchors, positives, negatives = objective.miner(emb, labels)
    i = int((anchors == 0).nonzero()[0])
    assert int(positives[i]) == 1
    assert int(negatives[i]) == 3
    out = objective(emb, labels, emb)
    assert float(out["triplet"]) > 0  # anchor 0 violates the margin with its hard negative
    assert float(out["keep"]) == pytest.approx(0.0, abs=1e-6)  # identical to the port: nothing to keep


def test_semi_hard_miner_keeps_only_semi_hard_triplets() -> None:
    emb = _unit([1, 0, 0], [0.95, 0.3, 0], [0.9, 0.42, 0.1], [0, 1, 0], [0, 0, 1])
    labels = torch.tensor([0, 0, 1, 1, 1])
    objective = Objective(FineTuneConfig(run_dir=Path("unused"), holdout="A", miner="semi-hard", margin=0.2))
    a, p, n = objective.miner(emb, labels)
    d = torch.cdist(emb, emb)
    assert len(a) > 0
    assert torch.all(d[a, n] > d[a, p]) and torch.all(d[a, n] < d[a, p] + 0.2)


def test_an_unknown_miner_is_refused() -> None:
    with pytest.raises(ValueError, match="miner must be one of"):
        FineTuneConfig(run_dir=Path("unused"), holdout="A", miner="hardest")


def test_a_few_steps_on_real_faces_lower_the_loss(lfw: Path, tmp_path: Path) -> None:
    pytest.importorskip("face_recognition_models", reason="the ported weights come from the train extra")
    from gatekeeper.training.facecache import build_shard, load_cache
    from gatekeeper.training.features import FROZEN_BLOCKS, trunk_features
    from gatekeeper.training.models import port_embeddings
    from gatekeeper.training.port import ported_network

    people = lfw_people(lfw, count=8, min_photos=6)
    photos = [str(p.relative_to(lfw)) for _, ps in people for p in ps[:6]]
    build_shard(str(lfw), photos, str(tmp_path / "cache" / "shard-00000.npz"))
    cache = load_cache(tmp_path / "cache")
    port = ported_network()
    feats = trunk_features(port, cache.crops)
    ids = np.unique(cache.labels, return_inverse=True)[1]
    data = TrainingFeatures(feats, ids, port_embeddings(port, feats))
    cfg = FineTuneConfig(run_dir=tmp_path / "run", holdout="A", steps=30, p=8, k=4, lr=1e-3, keep_close=0.1, checkpoint_every=10)

    def loss(net: torch.nn.Module) -> float:
        with torch.no_grad():
            emb = net.head(torch.from_numpy(feats[:, 0]).float(), FROZEN_BLOCKS)
        return float(Objective(cfg)(emb, torch.from_numpy(ids), emb)["triplet"])

    before = loss(port)
    tuned = finetune(cfg, port, data)
    assert loss(tuned) < before * 0.8, f"triplet loss did not fall: {before:.4f} -> {loss(tuned):.4f}"
    assert torch.equal(tuned.stem.weight, port.stem.weight), "the frozen trunk must not change"
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    resumed = finetune(FineTuneConfig(**{**cfg.__dict__, "steps": 30}), port, data, resume=True)
    assert torch.allclose(resumed.fc.weight, tuned.fc.weight), "resuming a finished run changes nothing"


class _Payload:
    """A pickle that runs code when loaded: what a crafted checkpoint file would hold."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def test_resume_refuses_a_checkpoint_that_carries_code(tmp_path: Path) -> None:
    """Issue #11 item 13: `--resume` loads tensors only; a crafted checkpoint runs nothing."""
    import pickle

    from gatekeeper.vision.encoders.resnet29 import FaceResNet29
    from gatekeeper.training.finetune import resume_from

    marker = tmp_path / "code-ran"
    with (tmp_path / "checkpoint.pt").open("wb") as fh:
        pickle.dump({"net": _Payload(marker)}, fh)
    net = FaceResNet29()
    opt = torch.optim.AdamW(net.parameters())
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=10)
    with pytest.raises(pickle.UnpicklingError):
        resume_from(tmp_path, net, opt, sched)
    assert not marker.exists()


def test_the_embedding_plots_are_written(tmp_path: Path) -> None:
    """`gatekeeper plot`'s two pictures (plotly's 3-D scatter needs pandas: both in the train extra)."""
    from gatekeeper.training.pictures import pca, pca3d_html, scatter_png

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(12, 128)).astype(np.float32)
    labels = np.array(["a", "b", "c"] * 4)
    html = pca3d_html(emb, labels, tmp_path / "e.html", "t")
    png = scatter_png(pca(emb, 2), labels, "t", tmp_path / "e.png")
    assert html.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
