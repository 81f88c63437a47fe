"""`gatekeeper train | eval | calibrate | plot`: the encoder's life cycle from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from gatekeeper.app import App
from gatekeeper.config import Settings
from gatekeeper.training.calibration import cv_embedders, open_set_all

train_app = typer.Typer(help="Build the face caches and train the encoder.", no_args_is_help=True)
eval_app = typer.Typer(help="Cross-validated LFW and open-set evaluation.", no_args_is_help=True)
console = Console()


@train_app.command("cache")
def train_cache(workers: int = 2) -> None:
    """Detect and align every training and evaluation photo once; resumable."""
    from gatekeeper.training.recipes import build_all_caches

    build_all_caches(workers=workers)


@train_app.command("template")
def train_template(photos: int = 2000) -> None:
    """Estimate the MTCNN 5-point template of dlib's 150x150 chip (needs dlib: the train extra)."""
    from gatekeeper.training.recipes import datasets_root, lfw_pairs
    from gatekeeper.training.template import estimate_template

    root = datasets_root() / "lfw"
    in_pairs = lfw_pairs().identities_in_folds(set(range(10)))
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in in_pairs)
    est = estimate_template([sorted((root / n).glob("*.jpg"))[0] for n in names][:photos])
    console.print(f"{est.photos} chips; mean landmarks (x, y):\n{np.round(est.points, 2).tolist()}\nspread (px):\n{np.round(est.spread, 2).tolist()}")


@train_app.command("yunet-landmarks")
def train_yunet_landmarks(photos: int = 2000) -> None:
    """Measure where YuNet's landmarks sit relative to MTCNN's on LFW photos of people in no
    evaluation pair, and write the mapping into models/yunet.json (door_detector = yunet)."""
    from gatekeeper.training.recipes import datasets_root, lfw_pairs
    from gatekeeper.training.yunet_landmarks import estimate_mapping, write_mapping

    root = datasets_root() / "lfw"
    in_pairs = lfw_pairs().identities_in_folds(set(range(10)))
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in in_pairs)
    mapping = estimate_mapping([sorted((root / n).glob("*.jpg"))[0] for n in names][:photos])
    path = write_mapping(mapping, f"first photo of {mapping.faces} LFW people in no evaluation pair")
    console.print(f"{mapping.faces} faces; YuNet in the ArcFace frame of MTCNN's points:\n{np.round(mapping.means, 2).tolist()}\n"
                  f"spread (px): {np.round(mapping.spread, 2).tolist()}; mapped to MTCNN's within {mapping.residual_px:.2f} px on average; wrote {path}")


@train_app.command("yunet-last-stage")
def train_yunet_last_stage() -> None:
    """Export MTCNN's output network (facenet-pytorch's weights) to models/mtcnn-onet.onnx: it
    places the landmarks of YuNet's faces (door_detector = yunet) under OpenCV, without torch."""
    from gatekeeper.training.yunet_landmarks import export_last_stage

    console.print(f"wrote {export_last_stage()}")


@train_app.command("encoder-int8")
def train_encoder_int8(model: str = "doornet-v2", photos: int = 400) -> None:
    """Build models/<model>-int8.onnx (encoder_precision = int8) from the shipped weights, its
    activation ranges measured on aligned faces of LFW people in no evaluation pair."""
    from gatekeeper.config import Settings
    from gatekeeper.training.encoder_int8 import calibration_faces, export_int8, loosest_door_threshold, record_export
    from gatekeeper.vision.model_files import resolve_model_path
    from gatekeeper.vision.pipeline import FacePipeline

    pipeline = FacePipeline(Settings(model=model, liveness="off"))
    crops = calibration_faces(pipeline, photos)
    weights = resolve_model_path(model)
    export = export_int8(pipeline.encoder, crops, weights.with_name(f"{weights.stem}-int8.onnx"), loosest_door_threshold(pipeline.encoder))
    record_export(weights.with_suffix(".json"), export, str(pipeline.encoder.card.sha256), f"first photo of {len(crops)} LFW people in no evaluation pair")
    console.print(f"wrote {export.path} ({export.path.stat().st_size / 1e6:.1f} MB); int8 vs float32 on the {len(crops)} faces: cosine min {export.cosine_min:.5f}, mean {export.cosine_mean:.5f}; similarity shift {export.similarity_shift:+.5f}")


@train_app.command("port")
def train_port(out: Path = Path("runs/port/model.pt")) -> None:
    """Convert dlib's CC0 face-descriptor ResNet into FaceResNet29 weights (no dlib needed)."""
    from gatekeeper.training.port import dlib_model_file, export_resnet29, ported_network

    path = export_resnet29(ported_network(), out, out.stem, {"training": {"source": dlib_model_file().name, "fine_tuned": False}})
    console.print(f"wrote {path} and {path.with_suffix('.json')}")


@train_app.command("liveness-onnx")
def train_liveness_onnx() -> None:
    """Rebuild models/minifasnet-*.onnx (what the door runs) from the shipped .pt state dicts and
    record their sha256 in models/liveness.json."""
    import hashlib

    from gatekeeper.vision.model_files import LIVENESS_MANIFEST, MODELS_DIR
    from gatekeeper.vision.minifasnet import export_onnx, load_state

    manifest_path = MODELS_DIR / LIVENESS_MANIFEST
    manifest = json.loads(manifest_path.read_text())
    for net in manifest["nets"]:
        out = MODELS_DIR / net["onnx"]
        export_onnx(load_state(MODELS_DIR / net["file"]), out)
        net["onnx_sha256"] = hashlib.sha256(out.read_bytes()).hexdigest()
        console.print(f"wrote {out}")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


@train_app.command("run")
def train_run(
    name: Annotated[str, typer.Option(help="run name: runs/<name>/")],
    port: Annotated[Path, typer.Option(help="the ported weights to start from (`gatekeeper train port`)")] = Path("runs/port/model.pt"),
    holdout: Annotated[str, typer.Option(help="A, B (cross-validation halves) or none (ship)")] = "A",
    steps: int = 600,
    miner: Annotated[str, typer.Option(help="batch-hard or semi-hard")] = "batch-hard",
    keep_close: Annotated[float, typer.Option(help="weight of 1 - cos(new, port); 0 = triplet only")] = 1.0,
    negatives: Annotated[int, typer.Option(help="UTKFace faces (the training share) added to each batch as negatives only")] = 0,
    lr: float = 5e-5,
    margin: float = 0.1,
    p: int = 32,
    k: int = 4,
    threads: int = 2,
    resume: bool = False,
    runs: Path = Path("runs"),
) -> None:
    """Fine-tune the port's later levels with triplet loss + online hard-negative mining."""
    from gatekeeper.training.finetune import FineTuneConfig, finetune
    from gatekeeper.training.models import load_resnet29, training_features
    from gatekeeper.training.port import export_resnet29
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.recipes import cache_root, holdout as make_holdout, lfw_pairs

    base = load_resnet29(port)
    held = make_holdout(holdout, lfw_pairs(), load_cache(cache_root() / "celeba"))
    data = training_features(base, held, negatives=negatives > 0)
    console.print(f"training on {len(data.identity)} faces of {int(data.identity.max()) + 1} identities; holdout {holdout}")
    cfg = FineTuneConfig(run_dir=runs / name, holdout=holdout, steps=steps, miner=miner, keep_close=keep_close, negatives=negatives, lr=lr, margin=margin, p=p, k=k, threads=threads,
                         notes={"lfw_folds_held_out": sorted(held.lfw_folds)})
    net = finetune(cfg, base, data, resume=resume)
    out = export_resnet29(net, runs / name / "model.pt", "model", {"holdout": holdout, "training": {"fine_tuned": True, "from": str(port), **_plain(cfg)}})
    console.print(f"exported {out}")


def _plain(cfg: object) -> dict:  # type: ignore[type-arg]
    from dataclasses import asdict

    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}  # type: ignore[call-overload]


PROBE_HELP = "how door probes are embedded: flip (with the mirror, like enrollment: the door default) or single (one pass, door_flip_average = false)"


def _probe_flip(probe: str) -> bool:
    if probe not in ("single", "flip"):
        raise typer.BadParameter(f"--probe must be single or flip, not {probe!r}")
    return probe == "flip"


@eval_app.command("lfw")
def eval_lfw(model_a: Path, model_b: Path, out: Path = Path("reports")) -> None:
    """LFW View 2, 10 folds, each scored by the model that never trained on it (the full encoder
    on the cached aligned crops). The unchanged port never saw LFW: pass it as both models."""
    from gatekeeper.training.evaluate import lfw_cross_validated
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.pictures import roc_png
    from gatekeeper.training.recipes import cache_root, lfw_pairs

    report, _ = lfw_cross_validated(cv_embedders(model_a, model_b, "lfw"), load_cache(cache_root() / "lfw"), lfw_pairs())
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
    roc_png({"DoorNet v2 (cross-validated)": (report.roc_far, report.roc_tar)}, out / "lfw_roc.png", "LFW View 2 ROC")
    console.print(f"wrote {out / 'lfw.json'} and {out / 'lfw_roc.png'}")


@eval_app.command("openset")
def eval_openset(model_a: Path, model_b: Path, out: Path = Path("reports"), probe: Annotated[str, typer.Option(help=PROBE_HELP)] = "flip") -> None:
    """CelebA open-set identification with CelebA and UTKFace strangers (held-out identities only);
    enrollment photos flip-averaged, probes embedded as the door does."""
    r = open_set_all(model_a, model_b, _probe_flip(probe))
    figures = {"probe": probe, "rank1": r.rank1, "mated_probes": r.mated, "strangers": r.strangers, "gallery_size": r.gallery, **{f"fnir_at_fpir_{k:g}": v[1] for k, v in r.fnir_at_fpir.items()}, **{f"threshold_at_fpir_{k:g}": v[0] for k, v in r.fnir_at_fpir.items()}}
    console.print(json.dumps(figures, indent=2))
    out.mkdir(parents=True, exist_ok=True)
    (out / "openset.json").write_text(json.dumps(figures, indent=2))


@eval_app.command("ablation")
def eval_ablation(
    runs: Annotated[list[Path], typer.Argument(help="run folders trained with --holdout A")],
    port: Path = Path("runs/port/model.pt"),
    out: Path = Path("reports"),
) -> None:
    """Port as-is vs fine-tuning runs, each scored on LFW folds 1-5 and CelebA half A (never seen).

    Scored on cached trunk features: the same network as the encoder, fp16 features aside."""
    from gatekeeper.training.evaluate import lfw_cross_validated, open_set
    from gatekeeper.training.models import dataset_features, head_embedder, load_resnet29
    from gatekeeper.training.recipes import celeba_half, lfw_pairs

    base = load_resnet29(port)
    (lfw, lfw_f), (celeba, celeba_f), (strangers, strangers_f) = (dataset_features(base, n) for n in ("lfw", "celeba", "utkface-strangers"))
    stranger_rows = np.flatnonzero(strangers.detected)[: int(strangers.detected.sum()) // 2]
    table = Table(title="ablation: holdout A, scored on what each run never saw")
    for col in ("run", "miner", "keep-close", "steps", "LFW folds 1-5", "TAR@1e-3", "TAR@1e-2", "rank-1", "FNIR@FPIR 1%"):
        table.add_column(col)
    rows = []
    arms = [("port (as-is)", port, None)] + [(r.name, r / "model.pt", json.loads((r / "config.json").read_text())) for r in runs]
    for name, weights, cfg in arms:
        if cfg is not None and cfg["holdout"] != "A":
            raise typer.BadParameter(f"{name} was not trained with --holdout A")
        net = load_resnet29(weights)
        report, _ = lfw_cross_validated({"A": head_embedder(net, lfw_f)}, lfw, lfw_pairs())
        osr = open_set(head_embedder(net, celeba_f), celeba, celeba_half(celeba.labels, "A"), head_embedder(net, strangers_f)(stranger_rows))
        row = {"run": name, "miner": cfg["miner"] if cfg else "-", "keep_close": cfg["keep_close"] if cfg else None, "steps": cfg["steps"] if cfg else 0,
               "lr": cfg["lr"] if cfg else None, "negatives": cfg.get("negatives", 0) if cfg else 0,
               "lfw_accuracy": report.mean_accuracy, "lfw_std": report.std_accuracy, "tar_1e-3": report.tar_at_far[1e-3], "tar_1e-2": report.tar_at_far[1e-2],
               "rank1": osr.rank1, "fnir_at_fpir_1%": osr.fnir_at_fpir[1e-2][1]}
        rows.append(row)
        table.add_row(name, row["miner"], "-" if cfg is None else f"{row['keep_close']:g}", str(row["steps"]), f"{report.mean_accuracy:.2%} ± {report.std_accuracy:.2%}",
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
    probe: Annotated[str, typer.Option(help=PROBE_HELP)] = "flip",
) -> None:
    """Thresholds for target false-accept rates (held-out LFW all-pairs, enrolled side x door side)
    and the top-1/top-2 margin, written into the model's manifest."""
    from gatekeeper.training.calibration import DUPLICATE_FAR, calibrate_door, write_door_calibration

    cal = calibrate_door(model_a, model_b, operating_far, _probe_flip(probe))
    table = Table(title=f"calibration on {cal.genuine} genuine / {cal.impostor} impostor held-out LFW pairs")
    for col in ("target FAR", "threshold", "TAR"):
        table.add_column(col)
    for far, (th, tar) in cal.far_thresholds.items():
        table.add_row(f"{far:g}", f"{th:.4f}", f"{tar:.2%}")
    console.print(table)
    console.print(f"door defaults: match threshold {cal.match:.4f} (FAR {operating_far:g}), min margin {cal.margin:.4f}; duplicate-person threshold {cal.duplicate:.4f} (photo x photo FAR {DUPLICATE_FAR:g}, TAR {cal.duplicate_tar:.2%})")
    write_door_calibration(card, cal, operating_far, probe)
    console.print(f"wrote calibration into {card}")


@train_app.command("calibrate-openset")
def calibrate_openset_cmd(
    card: Annotated[Path, typer.Option(help="model JSON to write the open-set calibration into")] = Path("models/doornet-v2.json"),
) -> None:
    """The door's operating point per gallery size: the share of strangers whose best match in a
    gallery of N people reaches each threshold, and the genuine scores, measured on the calibration
    share of held-out people (the evaluation share is left to bench/gallery_scale.py)."""
    from gatekeeper.training.calibration import calibrate_openset_manifest

    cal, counts, floor = calibrate_openset_manifest(card)
    table = Table(title=f"{counts['staff_people']} staff ({counts['staff_visits']} visits), {counts['strangers']} strangers, pool of {counts['pool']}")
    for col in ("gallery", "@ 0.1 %: threshold", "margin", "staff granted", "@ 1 %: threshold", "margin", "staff granted"):
        table.add_column(col)
    for n in (30, 1_000, 3_000, 10_000, 100_000):
        a, b = cal.operating_point(n, 1e-3, floor), cal.operating_point(n, 1e-2, floor)
        table.add_row(f"{n:,}", f"{a.threshold:.4f}", f"{a.margin:.4f}", f"{a.staff_granted:.1%}", f"{b.threshold:.4f}", f"{b.margin:.4f}", f"{b.staff_granted:.1%}")
    console.print(table)
    console.print(f"wrote the open-set calibration into {card}")


def plot_cmd(
    folder: Annotated[Optional[Path], typer.Argument(help="folder of <identity>/<photo> (default: the enrolled gallery)")] = None,
    out: Path = Path("reports/embeddings"),
    limit: int = 400,
) -> None:
    """PCA-3D (interactive HTML) and PCA-2D (PNG) of embeddings coloured by identity."""
    from gatekeeper.services.enrollment import discover_people
    from gatekeeper.training.pictures import pca, pca3d_html, scatter_png

    gk = App(Settings())
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
