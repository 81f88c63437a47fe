"""`gatekeeper train | eval | calibrate | plot`: the encoder's life cycle from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

train_app = typer.Typer(help="Build the face caches and train the encoder.", no_args_is_help=True)
eval_app = typer.Typer(help="Cross-validated LFW and open-set evaluation.", no_args_is_help=True)
console = Console()


@train_app.command("cache")
def train_cache(workers: int = 2, teacher: bool = True) -> None:
    """Detect, align (and teacher-embed) every training photo once; resumable."""
    from gatekeeper.training.recipes import build_all_caches

    build_all_caches(workers=workers, teacher=teacher)


@train_app.command("run")
def train_run(
    name: Annotated[str, typer.Option(help="run name: runs/<name>/")],
    holdout: Annotated[str, typer.Option(help="A, B (cross-validation halves) or none (ship)")] = "none",
    epochs: int = 12,
    steps: int = 200,
    loss: Annotated[str, typer.Option(help="triplet or ntxent")] = "triplet",
    miner: Annotated[str, typer.Option(help="batch-hard or semi-hard")] = "batch-hard",
    distill: Annotated[float, typer.Option(help="teacher-term weight; 0 = triplet only")] = 1.0,
    p: int = 32,
    k: int = 4,
    u: int = 64,
    lr: float = 3e-3,
    width: Annotated[int, typer.Option(help="network width (channels of the first stage)")] = 48,
    threads: int = 2,
    resume: bool = False,
    runs: Path = Path("runs"),
) -> None:
    """Train DoorNet with triplet loss + online hard-negative mining; export runs/<name>/model.pt."""
    from gatekeeper.training.batches import assemble_pool
    from gatekeeper.training.recipes import holdout as make_holdout, lfw_pairs, load_training_caches, probe_set
    from gatekeeper.training.train import TrainConfig, export, train

    caches = load_training_caches()
    held = make_holdout(holdout, lfw_pairs(), caches["celeba"])
    pool = assemble_pool(caches, held.exclusions())
    console.print(f"training on {len(pool.crops)} faces, {len(pool.by_identity)} identities with 2+ photos, {len(pool.with_teacher)} with teacher; holdout {holdout}")
    cfg = TrainConfig(run_dir=runs / name, epochs=epochs, steps_per_epoch=steps, p=p, k=k, u=u, lr=lr, width=width, loss=loss, miner=miner, distill=distill, threads=threads, notes={"holdout": holdout, "lfw_folds_held_out": sorted(held.lfw_folds)})
    net = train(cfg, pool, resume=resume, probe=probe_set(caches["lfw"], held.lfw_identities))
    export(net, cfg, runs / name / "model.pt", {"holdout": holdout})
    console.print(f"exported {runs / name / 'model.pt'}")


def _load_net(path: Path):  # type: ignore[no-untyped-def]
    from gatekeeper.encoder import FaceEncoder

    return FaceEncoder(path, threads=2).net


def _cv_models(model_a: Path, model_b: Path) -> dict:  # type: ignore[type-arg]
    return {"A": _load_net(model_a), "B": _load_net(model_b)}


@eval_app.command("lfw")
def eval_lfw(model_a: Path, model_b: Path, out: Path = Path("reports")) -> None:
    """LFW View 2, 10 folds, each scored by the model that never trained on it."""
    from gatekeeper.training.evaluate import lfw_cross_validated
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.pictures import roc_png
    from gatekeeper.training.recipes import cache_root, lfw_pairs

    report, _ = lfw_cross_validated(_cv_models(model_a, model_b), load_cache(cache_root() / "lfw"), lfw_pairs())
    table = Table(title="LFW 10-fold (cross-validated)")
    for col in ("fold", "accuracy", "threshold"):
        table.add_column(col)
    for i, (a, t) in enumerate(zip(report.fold_accuracy, report.fold_threshold), 1):
        table.add_row(str(i), f"{a:.4f}", f"{t:.3f}")
    console.print(table)
    figures = {"accuracy_mean": report.mean_accuracy, "accuracy_std": report.std_accuracy, "auc": report.auc, "eer": report.eer, "tar_at_far_1e-3": report.tar_at_far[1e-3], "tar_at_far_1e-2": report.tar_at_far[1e-2], "fold_accuracy": report.fold_accuracy.tolist()}
    console.print(f"accuracy {report.mean_accuracy:.2%} ± {report.std_accuracy:.2%}  AUC {report.auc:.4f}  EER {report.eer:.2%}  TAR@FAR1e-3 {report.tar_at_far[1e-3]:.2%}  TAR@FAR1e-2 {report.tar_at_far[1e-2]:.2%}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "lfw.json").write_text(json.dumps(figures, indent=2))
    roc_png({"DoorNet (cross-validated)": (report.roc_far, report.roc_tar)}, out / "lfw_roc.png", "LFW View 2 ROC")
    console.print(f"wrote {out / 'lfw.json'} and {out / 'lfw_roc.png'}")


def _open_set_all(model_a: Path, model_b: Path):  # type: ignore[no-untyped-def]
    from gatekeeper.training.evaluate import merge_open_set, open_set
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.recipes import cache_root, celeba_half

    celeba = load_cache(cache_root() / "celeba")
    strangers = load_cache(cache_root() / "utkface-strangers")
    stranger_crops = strangers.crops[strangers.detected]
    half = len(stranger_crops) // 2
    parts = []
    for i, (group, net) in enumerate(_cv_models(model_a, model_b).items()):
        parts.append(open_set(net, celeba, celeba_half(celeba.labels, group), stranger_crops[i * half : (i + 1) * half]))
    return merge_open_set(parts)


@eval_app.command("openset")
def eval_openset(model_a: Path, model_b: Path, out: Path = Path("reports")) -> None:
    """CelebA open-set identification with CelebA and UTKFace strangers (held-out identities only)."""
    r = _open_set_all(model_a, model_b)
    figures = {"rank1": r.rank1, "mated_probes": r.mated, "strangers": r.strangers, "gallery_size": r.gallery, **{f"fnir_at_fpir_{k:g}": v[1] for k, v in r.fnir_at_fpir.items()}, **{f"threshold_at_fpir_{k:g}": v[0] for k, v in r.fnir_at_fpir.items()}}
    console.print(json.dumps(figures, indent=2))
    out.mkdir(parents=True, exist_ok=True)
    (out / "openset.json").write_text(json.dumps(figures, indent=2))


@eval_app.command("ablation")
def eval_ablation(runs: Annotated[list[Path], typer.Argument(help="run folders trained with --holdout A")], out: Path = Path("reports")) -> None:
    """Compare objectives: each run scored on LFW folds 1-5 and CelebA half A, which it never saw."""
    from gatekeeper.training.evaluate import lfw_cross_validated, open_set
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.recipes import cache_root, celeba_half, lfw_pairs

    lfw, pairs, celeba = load_cache(cache_root() / "lfw"), lfw_pairs(), load_cache(cache_root() / "celeba")
    strangers = load_cache(cache_root() / "utkface-strangers")
    stranger_crops = strangers.crops[strangers.detected][: int(strangers.detected.sum()) // 2]
    table = Table(title="ablation: same budget, holdout A, scored on what each run never saw")
    for col in ("run", "loss", "miner", "distill", "steps", "LFW folds 1-5", "AUC", "TAR@1e-3", "TAR@1e-2", "rank-1", "FNIR@FPIR 1%"):
        table.add_column(col)
    rows = []
    for run in runs:
        cfg = json.loads((run / "config.json").read_text())
        if cfg["notes"]["holdout"] != "A":
            raise typer.BadParameter(f"{run} was not trained with --holdout A")
        net = _load_net(run / "model.pt")
        report, _ = lfw_cross_validated({"A": net}, lfw, pairs)
        osr = open_set(net, celeba, celeba_half(celeba.labels, "A"), stranger_crops)
        row = {"run": run.name, "loss": cfg["loss"], "miner": cfg["miner"] if cfg["loss"] == "triplet" else "-", "distill": cfg["distill"], "steps": cfg["epochs"] * cfg["steps_per_epoch"],
               "lfw_accuracy": report.mean_accuracy, "lfw_std": report.std_accuracy, "auc": report.auc, "tar_1e-3": report.tar_at_far[1e-3], "tar_1e-2": report.tar_at_far[1e-2],
               "rank1": osr.rank1, "fnir_at_fpir_1%": osr.fnir_at_fpir[1e-2][1]}
        rows.append(row)
        table.add_row(run.name, row["loss"], row["miner"], f"{row['distill']:g}", str(row["steps"]), f"{report.mean_accuracy:.2%} ± {report.std_accuracy:.2%}", f"{report.auc:.4f}",
                      f"{row['tar_1e-3']:.1%}", f"{row['tar_1e-2']:.1%}", f"{osr.rank1:.1%}", f"{row['fnir_at_fpir_1%']:.1%}")
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(rows, indent=2))
    console.print(f"wrote {out / 'ablation.json'}")


def calibrate_cmd(
    model_a: Path,
    model_b: Path,
    card: Annotated[Path, typer.Option(help="model JSON to write the calibration into")],
    operating_far: Annotated[float, typer.Option(help="the FAR whose threshold the door uses by default")] = 1e-3,
) -> None:
    """Thresholds for target false-accept rates (held-out LFW all-pairs) and the top-1/top-2 margin."""
    from gatekeeper.training.evaluate import all_pair_scores, calibrate, margin_for
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.recipes import CV_GROUPS, cache_root, lfw_pairs
    from gatekeeper.training.train import embed_crops

    lfw, pairs = load_cache(cache_root() / "lfw"), lfw_pairs()
    genuine, impostor = [], []
    for group, net in _cv_models(model_a, model_b).items():
        idx = np.flatnonzero(np.isin(lfw.labels, list(pairs.identities_in_folds(CV_GROUPS[group]))) & lfw.detected)
        g, i = all_pair_scores(embed_crops(net, lfw.crops[idx], net.input_size), lfw.labels[idx])
        genuine.append(g)
        impostor.append(i)
    cal = calibrate(np.concatenate(genuine), np.concatenate(impostor))
    match = cal.far_thresholds[operating_far][0]
    margin = margin_for(_open_set_all(model_a, model_b), match)
    table = Table(title=f"calibration on {cal.genuine} genuine / {cal.impostor} impostor held-out LFW pairs")
    for col in ("target FAR", "threshold", "TAR"):
        table.add_column(col)
    for far, (th, tar) in cal.far_thresholds.items():
        table.add_row(f"{far:g}", f"{th:.4f}", f"{tar:.2%}")
    console.print(table)
    console.print(f"door defaults: match threshold {match:.4f} (FAR {operating_far:g}), min margin {margin:.4f}")
    meta = json.loads(card.read_text())
    meta["name"] = card.stem  # the file name is the model's name (runs export as "model")
    meta["calibration"] = {
        "match_threshold": round(match, 4), "min_margin": round(margin, 4), "operating_far": operating_far,
        "far_thresholds": {f"{far:g}": {"threshold": round(th, 4), "tar": round(tar, 4)} for far, (th, tar) in cal.far_thresholds.items()},
        "pairs": {"genuine": cal.genuine, "impostor": cal.impostor},
        "source": "LFW all-pairs of cross-validation held-out identities; margin keeps 99% of correct open-set matches",
    }
    card.write_text(json.dumps(meta, indent=2) + "\n")
    console.print(f"wrote calibration into {card}")


def plot_cmd(
    folder: Annotated[Optional[Path], typer.Argument(help="folder of <identity>/<photo> (default: the enrolled gallery)")] = None,
    out: Path = Path("reports/embeddings"),
    limit: int = 400,
) -> None:
    """PCA-3D (interactive HTML) and PCA-2D (PNG) of embeddings coloured by identity."""
    from gatekeeper.cli import _app
    from gatekeeper.enrollment import discover_people
    from gatekeeper.training.pictures import pca, pca3d_html, scatter_png

    gk = _app()
    if folder is None:
        from sqlalchemy import select

        from gatekeeper.storage.models import Photo

        with gk.sessions() as s:
            rows = s.execute(select(Photo.person_id, Photo.embedding)).all()
        labels = np.array([r.person_id for r in rows])
        emb = np.stack([gk.codec.decode(r.embedding) for r in rows]) if rows else np.zeros((0, 128))
    else:
        emb_list, label_list = [], []
        for pid, _, photos in discover_people(folder):
            for ph in photos:
                res = gk.enrollment.embed_photo(ph)
                if res.ok:
                    emb_list.append(res.embedding)
                    label_list.append(pid)
            if len(emb_list) >= limit:
                break
        emb, labels = np.stack(emb_list), np.array(label_list)
    if len(emb) < 3:
        raise typer.BadParameter("need at least 3 embeddings to plot")
    html = pca3d_html(emb, labels, out.with_suffix(".html"), "PCA-3D of face embeddings")
    png = scatter_png(pca(emb, 2), labels, "PCA-2D of face embeddings", out.with_suffix(".png"))
    console.print(f"wrote {html} and {png}")
