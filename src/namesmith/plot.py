"""``namesmith plot``: training and validation loss curves from a run's metrics log (matplotlib, Agg)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from .checkpoint import read_meta
from .errors import NamesmithError, OutputError
from .files import atomic_write, read_jsonl, refuse_inputs
from .runfiles import RunPaths, check_png, owner


Curves = dict[int | None, tuple[list[tuple[int, float]], list[tuple[int, float]]]]


def read_metrics(path: Path) -> Curves:
    """(step, training NLL) and (step, validation NLL) points of each network: ``None`` for a one-network run,
    else the record's ``member`` (a --folds/--ensemble run's networks); lines that are not loss records are skipped."""
    if not path.exists():
        raise NamesmithError(f"{path}: no metrics log (train a model first, or give the .metrics.jsonl path)")
    curves: Curves = {}
    for rec in read_jsonl(path):
        step, member = rec.get("step"), rec.get("member")
        if not isinstance(step, int) or not (member is None or type(member) is int):
            continue
        for key, i in (("train_nll", 0), ("val_nll", 1)):
            v = rec.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                curves.setdefault(member, ([], []))[i].append((step, float(v)))
    if not curves:
        raise NamesmithError(f"{path}: holds no loss records yet")
    return curves


COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def draw(ax, curves: Curves, saved: tuple[str | None, float | None] | None = None) -> None:
    """The curves on ``ax``: each network's training and validation NLL, its best validation point starred and
    named in the legend (text beside the points overlapped on a run of several networks), the saved model's
    own validation NLL as a dashed line when it is a mixture (the network alone is not what the run reported),
    and the legend beside the plot, not over the curves."""
    several = len(curves) > 1 or None not in curves
    for i, (member, (train, val)) in enumerate(sorted(curves.items(), key=lambda kv: kv[0] or 0)):
        who = "" if member is None else f"network {member}: "
        light, dark = (COLOURS[0], COLOURS[1]) if member is None else (COLOURS[i % 8], COLOURS[i % 8])
        if train:
            ax.plot(*zip(*train), label=f"{who}training (mean over log interval)", color=light, linewidth=1,
                    alpha=0.5 if several else 1.0)
        if val:
            best = min(val, key=lambda sv: sv[1])
            alone = ", network alone" if saved and saved[0] == "mixture" else ""
            ax.plot(*zip(*val), label=f"{who}validation{alone} (best {best[1]:.4f} at step {best[0]:,})",
                    color=dark, marker="o", markersize=3, linewidth=1.5)
            ax.plot(*best, marker="*", markersize=11, color=dark, markeredgecolor="black", linestyle="none")
    if saved and saved[0] == "mixture" and isinstance(saved[1], (int, float)):
        ax.axhline(saved[1], color="black", linestyle="--", linewidth=1,
                   label=f"the saved model (networks + n-gram): {saved[1]:.4f}, as the run reported")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("NLL (nats per character)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)


def plot_run(run: str | Path, out: str | Path | None = None) -> Path:
    """Draw the run's loss curves; returns the PNG written (``out`` may be a file or a folder)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise NamesmithError("plotting needs matplotlib: pip install 'namesmith[plot]'") from None
    paths = RunPaths.of_any(run)
    path = paths.metrics
    curves = read_metrics(path)
    model, log = owner(paths.best), owner(path)
    if model is not None and model.ours and model.run and log is not None and log.run and model.run != log.run:
        raise NamesmithError(f"{path} is the metrics log of another run than {paths.best}; plot the log itself "
                             f"(namesmith plot {path})")
    name = path.name.replace(".metrics.jsonl", "")
    target = Path(out) if out else path.with_name(name + ".loss.png")
    if os.path.isdir(target):
        target = target / (name + ".loss.png")
    if not os.path.isdir(target.parent):
        raise OutputError(f"{target.parent}: no such folder for the plot")
    refuse_inputs([target], [("metrics log", path), *(("run's file", p) for p in paths.all())])
    target = check_png(target)
    saved = None
    if model is not None and model.ours and (log is None or not log.run or model.run == log.run):
        meta = read_meta(paths.best) or {}
        saved = ((meta.get("model") or {}).get("type"), (meta.get("metrics") or {}).get("val_nll"))
    fig = Figure(figsize=(9, 4.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    draw(ax, curves, saved)
    ax.set_title(name)
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
    if not os.path.isdir(target.parent):
        raise OutputError(f"{target.parent}: no such folder for the plot")
    target = check_png(target)
    styles, counts = report.styles, np.asarray(report.confusion, dtype=np.float64)
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
    ax.set_title(f"accuracy {report.accuracy:.1%}, macro {report.macro_accuracy:.1%}")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    atomic_write(target, lambda f: f.write(png.getvalue()))
    return target
