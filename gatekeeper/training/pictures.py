"""Pictures of the embedding space: per-epoch PCA scatter, ROC curve, and `gatekeeper plot`."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: training runs on servers with no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gatekeeper.errors import EnvironmentFault  # noqa: E402


def pca(x: np.ndarray, dims: int) -> np.ndarray:
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:dims].T


def scatter_png(points2d: np.ndarray, labels: np.ndarray, title: str, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 6))
    for name in np.unique(labels):
        m = labels == name
        ax.scatter(points2d[m, 0], points2d[m, 1], s=14, label=str(name)[:18])
    ax.set_title(title)
    ax.legend(fontsize=6, loc="best", markerscale=0.8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def roc_png(curves: dict[str, tuple[np.ndarray, np.ndarray]], out: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, (far, tar) in curves.items():
        ax.plot(np.maximum(far, 1e-4), tar, label=name)
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def pca3d_html(emb: np.ndarray, labels: np.ndarray, out: Path, title: str) -> Path:
    try:
        import plotly.express as px
    except ImportError as exc:
        raise EnvironmentFault(f"the 3-D plot needs the train extra ({exc.name} is missing): pip install 'gatekeeper[train]'") from exc

    p = pca(emb, 3)
    fig = px.scatter_3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], color=[str(v) for v in labels], title=title)
    fig.update_traces(marker={"size": 3})
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(out), include_plotlyjs=True)
    return out
