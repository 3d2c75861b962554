"""``namesmith plot``: training and validation loss curves from a run's metrics log (matplotlib, Agg)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import NamesmithError


def metrics_path(run: str | Path) -> Path:
    p = Path(run)
    if p.name.endswith(".metrics.jsonl"):
        return p
    from .train import paths_for

    name = p.name
    if name.endswith(".last.npz"):
        p = p.with_name(name[: -len(".last.npz")] + ".npz")
    return paths_for(p)["metrics"]


def read_metrics(path: Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    if not path.exists():
        raise NamesmithError(f"{path}: no metrics log (train a model first, or give the .metrics.jsonl path)")
    train, val = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("train_nll") is not None:
            train.append((rec["step"], rec["train_nll"]))
        if rec.get("val_nll") is not None:
            val.append((rec["step"], rec["val_nll"]))
    if not train and not val:
        raise NamesmithError(f"{path}: holds no loss records yet")
    return train, val


def plot_run(run: str | Path, out: str | Path | None = None) -> Path:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise NamesmithError("plotting needs matplotlib: pip install 'namesmith[plot]'") from None
    path = metrics_path(run)
    train, val = read_metrics(path)
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
    ax.set_title(path.name.replace(".metrics.jsonl", ""))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(out) if out else path.with_name(path.name.replace(".metrics.jsonl", ".loss.png"))
    fig.savefig(out)
    return out
