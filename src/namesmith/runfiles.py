"""The files of one training run, and which run owns each (README, "Files").

A run writes up to four files: the best model (``-o``), its last state for
``--resume`` (``.last.npz``), the network alone (``.neural.npz``) and the metrics
log (``.metrics.jsonl``). Each records the id of the run that wrote it (a
checkpoint in ``meta["run"]``, the metrics log in its first line), so that:

* a new run never replaces another run's files unless told to (``--force``, or
  ``force=True`` in Python), and a file that is not namesmith's own is never
  replaced at all (:func:`check_replace`);
* ``--resume`` continues only from a last state of the same run;
* once a run has saved, no file of another run, and no stale file of its own (a
  ``.neural.npz`` of an earlier invocation that mixed an n-gram), is left beside
  its model (:meth:`RunFiles.wrote`, :meth:`RunFiles.finish`).

A run's id is random (``secrets``), not derived from ``--seed``: two runs with the
same seed compute the same numbers but are two runs. Files written by namesmith
before 0.9 carry no id; a resumed run of that age counts them as its own.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import read_meta
from .corpus import display_name, is_builtin
from .errors import OutputError
from .files import ensure_writable, output_target, read_limited, refuse_inputs, same_file

SIDE = (".last.npz", ".neural.npz", ".metrics.jsonl")
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class RunPaths:
    """Where a run writes: the best model (``-o``), the last state, the network alone and the metrics."""

    best: Path
    last: Path
    neural: Path
    metrics: Path

    @classmethod
    def of(cls, out: str | os.PathLike) -> "RunPaths":
        if not isinstance(out, (str, os.PathLike)) or not os.fspath(out):
            raise OutputError("the output path (-o) is empty; give a file name (e.g. -o model.npz)")
        out = Path(out)
        if not out.name or out.name in (".", ".."):
            raise OutputError(f"-o {os.fspath(out)} is a folder; give a file name (e.g. -o model.npz)")
        side = next((t for t in SIDE if out.name.endswith(t)), None)
        if side is not None:
            owner = out.name[: -len(side)] + ".npz"
            raise OutputError(f"-o {out.name} names the {side[1:]} file of the run {owner}; give the model a name "
                              f"that does not end in {side}")
        stem = out.name[: -len(".npz")] if out.name.endswith(".npz") else out.name
        return cls(out, out.with_name(stem + ".last.npz"), out.with_name(stem + ".neural.npz"),
                   out.with_name(stem + ".metrics.jsonl"))

    @classmethod
    def of_any(cls, path: str | os.PathLike) -> "RunPaths":
        """The run a file belongs to: ``m.npz``, ``m.last.npz``, ``m.neural.npz`` or ``m.metrics.jsonl``."""
        p = Path(path)
        for tail in SIDE:
            if p.name.endswith(tail):
                return cls.of(p.with_name(p.name[: -len(tail)] + ".npz"))
        return cls.of(p)

    def all(self) -> tuple[Path, ...]:
        return (self.best, self.last, self.neural, self.metrics)


def new_run() -> dict:
    """The ``run`` section of a new run's files: a random id and when it started (UTC)."""
    return {"id": secrets.token_hex(8), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


@dataclass(frozen=True)
class Owner:
    """Who wrote an existing file: namesmith (``ours``) or not, and for namesmith files the run's id."""

    ours: bool
    run: str | None  # None: a namesmith file without an id (written before 0.9)
    what: str  # for messages: "a model (lstm, trained on given-names, started ...)"


def metrics_owner(path: Path) -> Owner:
    """A metrics log is namesmith's when its first line is its header (``{"run": ...}``) or a loss record."""
    try:
        first = read_limited(path, 1 << 16, what="metrics log").split(b"\n", 1)[0]
        head = json.loads(first)
    except Exception:  # unreadable, binary, not JSON: not one of ours
        return Owner(False, None, "a file")
    if isinstance(head, dict) and isinstance(head.get("run"), str):
        return Owner(True, head["run"], "the metrics log")
    return Owner(isinstance(head, dict) and "step" in head, None, "the metrics log")


def owner(path: str | os.PathLike) -> Owner | None:
    """Who wrote the file at ``path`` (None: there is none)."""
    p = Path(path)
    if not p.exists():
        return None
    if p.name.endswith(".jsonl"):
        return metrics_owner(p)
    meta = read_meta(p)
    if meta is None:
        return Owner(False, None, "a file")
    run = meta.get("run") or {}
    model = (meta.get("model") or {}).get("type", "model")
    corpus = meta.get("corpus") or {}
    on = corpus.get("name") or (display_name(corpus["source"]) if corpus.get("source") else None)
    detail = ", ".join(x for x in (model, f"trained on {on}" if on else "",
                                   f"started {run['started']}" if run.get("started") else "") if x)
    return Owner(True, run.get("id"), f"a model ({detail})")


def check_replace(path: str | os.PathLike, run_id: str | None, *, force: bool = False,
                  legacy_is_mine: bool = False) -> None:
    """Refuse to replace ``path`` unless it is absent, a file of run ``run_id``, or (``force``) another run's.

    A file namesmith did not write is never replaced. ``legacy_is_mine``: a namesmith file
    without a run id (namesmith < 0.9) counts as this run's (a resumed run of that age).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise OutputError(f"an output is a file path, not {type(path).__name__}")
    target = output_target(path)
    who = owner(target)
    if who is None or (who.ours and (who.run == run_id or (who.run is None and legacy_is_mine))):
        return
    if not who.ours:
        raise OutputError(f"{path} exists and was not written by namesmith; namesmith replaces only its own "
                          "files: move it away or choose another output path (-o)")
    if not force:
        raise OutputError(f"{path} holds {who.what} of another run; add --force to replace it and that run's "
                          "files beside it, or choose another output path (-o)")


def check_png(path: str | os.PathLike) -> Path:
    """The PNG file a plot may be written to: absent, or already a PNG image (never a model or anything else)."""
    target = output_target(path, "plot")
    if target.exists():
        with open(target, "rb") as f:
            if f.read(len(PNG)) != PNG:
                raise OutputError(f"{path} exists and is not a PNG image; a plot replaces only an earlier plot: "
                                  "choose another file name (e.g. loss.png)")
    return target


@dataclass
class RunFiles:
    """The files of one run: where they go, the run's id, and which of them this invocation has written."""

    paths: RunPaths
    run: dict  # the "run" section of its checkpoints: id, started
    force: bool = False
    resuming: bool = False
    written: set[Path] = field(default_factory=set)

    @property
    def id(self) -> str:
        return self.run["id"]

    def claim(self) -> None:
        """Check, before any work (and again holding the lock), that every file the run may write is its own,
        absent, or (``force``) another run's."""
        for p in self.paths.all():
            check_replace(p, self.id, force=self.force, legacy_is_mine=self.resuming)

    def wrote(self, path: Path) -> None:
        """``path`` now holds this run's file; the first time, other runs' files beside it go (``force``)."""
        first = not self.written
        self.written.add(path)
        if first:
            self._sweep(lambda who: who.run != self.id and not (who.run is None and self.resuming))

    def finish(self) -> None:
        """The run is complete: every file of its paths that this invocation did not write goes (a stale
        ``.neural.npz`` of its own, or another run's side file), so only files of this run remain."""
        self._sweep(lambda who: True)

    def _sweep(self, remove) -> None:
        for p in self.paths.all():
            if p in self.written:
                continue
            who = owner(p)
            if who is not None and who.ours and remove(who):
                try:
                    p.unlink()
                except OSError:
                    pass


def run_files(cfg, config, resume, meta, force: bool) -> RunFiles | None:
    """The files of a run of ``cfg`` (a TrainConfig; ``meta``: the resumed checkpoint's), checked before any
    work: none is an input, another run's (without ``force``) or not namesmith's, and the folder is writable."""
    if not cfg.out:
        return None
    paths = RunPaths.of(cfg.out)
    inputs = [("corpus", None if is_builtin(cfg.corpus) or cfg.corpus is None else cfg.corpus),
              ("validation file", cfg.val), ("configuration file", config), ("base model", cfg.init_from)]
    if resume is not None and not same_file(resume, paths.last):
        inputs.append(("checkpoint to resume", resume))
    refuse_inputs([output_target(p) for p in paths.all()], inputs)
    run = (meta.run.__dict__ if meta is not None and meta.run is not None else None) or new_run()
    files = RunFiles(paths, run, force, resuming=meta is not None)
    files.claim()
    ensure_writable(output_target(paths.best))
    return files
