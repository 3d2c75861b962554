"""``namesmith plot``: training and validation loss curves from a run's metrics log (matplotlib, Agg)."""

from __future__ import annotations

import io
from pathlib import Path

from .errors import NamesmithError, OutputError
from .files import RunPaths, atomic_write, read_jsonl, refuse_inputs


def read_metrics(path: Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(step, training NLL) and (step, validation NLL) points; lines that are not loss records are skipped."""
    if not path.exists():
        raise NamesmithError(f"{path}: no metrics log (train a model first, or give the .metrics.jsonl path)")
    train, val = [], []
    for rec in read_jsonl(path):
        step = rec.get("step")
        if not isinstance(step, int):
            continue
        for key, points in (("train_nll", train), ("val_nll", val)):
            v = rec.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                points.append((step, float(v)))
    if not train and not val:
        raise NamesmithError(f"{path}: holds no loss records yet")
    return train, val


def plot_run(run: str | Path, out: str | Path | None = None) -> Path:
    """Draw the run's loss curves; returns the PNG written (``out`` may be a file or a folder)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise NamesmithError("plotting needs matplotlib: pip install 'namesmith[plot]'") from None
    path = RunPaths.of_any(run).metrics
    train, val = read_metrics(path)
    name = path.name.replace(".metrics.jsonl", "")
    target = Path(out) if out else path.with_name(name + ".loss.png")
    if target.is_dir():
        target = target / (name + ".loss.png")
    if not target.parent.is_dir():
        raise OutputError(f"{target.parent}: no such folder for the plot")
    refuse_inputs([target], [("metrics log", path)])
    fig = Figure(figsize=(7, 4.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if train:
        ax.plot(*zip(*train), label="training (mean over log interval)", color="#4c72b0", linewidth=1)
    if val:
        ax.plot(*zip(*val), label="validation", color="#dd8452", marker="o", markersize=3, linewidth=1.5)
        best = min(val, key=lambda sv: sv[1])
        ax.annotate(f"best {best[1]:.4f}", best, textcoords="offset points", xytext=(0, -14), fontsize=8)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("NLL (nats per character)")
    ax.set_title(name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    atomic_write(target, lambda f: f.write(png.getvalue()))
    return target


def plot_confusion(report: dict, out: str | Path) -> Path:
    """Draw the confusion matrix of a per-style evaluation (rows: given style, columns: predicted), row-normalised."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise NamesmithError("plotting needs matplotlib: pip install 'namesmith[plot]'") from None
    import numpy as np

    target = Path(out)
    if not target.parent.is_dir():
        raise OutputError(f"{target.parent}: no such folder for the plot")
    styles, counts = report["styles"], np.asarray(report["confusion"], dtype=np.float64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(2.0 + 0.35 * len(styles), 24.0)
    fig = Figure(figsize=(size + 1.5, size), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(styles)), styles, rotation=90, fontsize=7)
    ax.set_yticks(range(len(styles)), styles, fontsize=7)
    if len(styles) <= 20:
        for i in range(len(styles)):
            for j in range(len(styles)):
                if counts[i, j]:
                    ax.text(j, i, f"{shares[i, j]:.0%}", ha="center", va="center", fontsize=6,
                            color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted style")
    ax.set_ylabel("given style")
    ax.set_title(f"accuracy {report['accuracy']:.1%}, macro {report['macro_accuracy']:.1%}")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    atomic_write(target, lambda f: f.write(png.getvalue()))
    return target
