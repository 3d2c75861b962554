"""Fault injection: thousands of generated cases against the command line, the Python API and the web server.

Every case runs in a workspace of its own (a copy of the fixtures: corpora, models, a user's files), under a
timeout, and is judged by the contract of README "Files" and RELIABILITY.md:

* **traceback**: a Python traceback anywhere in the output, or a non-zero exit whose last line on stderr is not
  one ``namesmith: error: ...`` line (or ``namesmith: interrupted``);
* **hang**: the case ran past its timeout;
* **file**: a fixture the case may not write (the corpus, the models, a user's notes) was changed or removed,
  or a temporary or lock file was left behind;
* **exit**: an exit code the case does not allow (bad input that exits 0: a silent wrong result; a user error
  that exits 1: a wrong code);
* **memory**: peak RSS over ``--max-rss`` MB;
* **http**: an answer that is not JSON with a 2xx/4xx/503 status, or a server that stopped answering.

Command-line and API cases run ``namesmith.cli.main`` (or the API call) in a forked child of a preloaded
process, so a case costs milliseconds of start-up; the cases that need a real process (signals, a closed
stdout, concurrent runs) use one. Prints a summary table by class and, with ``--json``, every failure.

    python benchmarks/fuzz.py                       # all classes, about 3,000 cases, 2 processes
    python benchmarks/fuzz.py --classes api,http --limit 200 --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # forked children: one BLAS thread, no pool to break
import numpy as np  # noqa: E402

NAMES = ("anna bob eve otto ada abba emma ben noah liam mia zoe lea lucas hugo ines jules louise "
         "arthur rose leo alice paul clara victor nina oscar lina theo julia sam ivy max ruby finn").split()
LABELLED = [(n, "A" if i % 2 else "B") for i, n in enumerate(NAMES)]
TINY = ["--model", "rnn", "--hidden", "8", "--steps", "3", "--eval-every", "2", "--samples", "0", "--no-progress",
        "--mix-ngram", "0"]
OK_CODES = {0, 1, 2, 130}


# ----- the fixtures ------------------------------------------------------------------------------------------
def build_fixtures(d: Path) -> None:
    """Corpora, three models (a network with its run's side files, an n-gram, a styled network), a user's files."""
    from namesmith.cli import main

    (d / "c.txt").write_text("\n".join(NAMES) + "\n")
    (d / "l.tsv").write_text("".join(f"{n}\t{s}\n" for n, s in LABELLED))
    (d / "styles").mkdir()
    (d / "styles" / "A.txt").write_text("\n".join(NAMES[::2]) + "\n")
    (d / "styles" / "B.txt").write_text("\n".join(NAMES[1::2]) + "\n")
    (d / "notes.txt").write_text("my own notes, never to be touched\n")
    (d / "t.toml").write_text("hidden = 8\nsteps = 3\n")
    quiet = io.StringIO()
    here = os.getcwd()
    os.chdir(d)
    with _redirect(quiet):
        assert main(["train", "c.txt", "--model", "rnn", "--hidden", "16", "--steps", "20", "--eval-every", "10",
                     "--samples", "0", "--no-progress", "--mix-ngram", "3", "-o", "m.npz"]) == 0
        assert main(["train", "c.txt", "--model", "ngram", "--order", "3", "-o", "g.npz"]) == 0
        assert main(["train", "l.tsv", "--model", "rnn", "--hidden", "8", "--steps", "20", "--eval-every", "10",
                     "--samples", "0", "--no-progress", "--mix-ngram", "3", "-o", "s.npz"]) == 0
    os.chdir(here)


class _redirect:
    def __init__(self, sink):
        self.sink = sink

    def __enter__(self):
        self.saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self.sink

    def __exit__(self, *exc):
        sys.stdout, sys.stderr = self.saved


def snapshot(d: Path) -> dict[str, str]:
    out = {}
    for p in d.rglob("*"):
        if p.is_file() and not p.is_symlink() and p.name not in (".out", ".err"):
            out[str(p.relative_to(d))] = hashlib.blake2b(p.read_bytes(), digest_size=16).hexdigest()
    return out


# ----- cases ------------------------------------------------------------------------------------------------
@dataclass
class Case:
    cls: str
    name: str
    argv: list[str] | None = None  # the CLI, in a forked child
    call: Callable | None = None  # a Python API call (workspace -> anything), in a forked child
    proc: Callable | None = None  # a real process (workspace -> (code, stdout, stderr)), for signals and races
    expect: frozenset = frozenset({0, 2})
    outputs: tuple[str, ...] = ()  # fixture files the case may replace
    setup: Callable | None = None  # (workspace) -> None, before the case
    timeout: float = 60.0


@dataclass
class Result:
    case: Case
    code: int | None
    seconds: float
    rss_mb: float
    failures: list[str] = field(default_factory=list)
    detail: str = ""


BAD_NUMBERS = ["", "abc", "nan", "inf", "-inf", "1e999"]
VALUES = BAD_NUMBERS + ["0", "-1", "1", "2", "7", "1.5", "0.5", "1000000", "2147483648", "99999999999999999999999",
                        " ", "é", "x" * 5000, "--"]


def _options(sub: str) -> list[tuple[str, object]]:
    """(flag, argparse action) of every option of a subcommand, read from the real parser."""
    from namesmith.cli import build_parser

    parser = build_parser()
    sp = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[sub]
    out = []
    for action in sp._actions:
        long = [o for o in action.option_strings if o.startswith("--")]
        if long and long[0] != "--help":
            out.append((long[0], action))
    return out


def cli_cases() -> list[Case]:
    base = {"train": ["train", "c.txt", *TINY, "-o", "out.npz"], "sample": ["sample", "m.npz", "-n", "3"],
            "score": ["score", "m.npz", "anna"], "eval": ["eval", "m.npz", "c.txt"],
            "classify": ["classify", "s.npz", "anna"], "mix": ["mix", "m.npz", "m.npz", "-o", "ens.npz"],
            "plot": ["plot", "m.npz", "-o", "curve.png"], "models": ["models"], "corpora": ["corpora"]}
    cases = []
    for sub, argv in base.items():
        for flag, action in _options(sub):
            numeric = action.type in (int, float)
            flags_only = action.nargs == 0
            for v in (VALUES if not flags_only else [None]):
                args = [*argv, flag] + ([] if v is None else [v])
                if sub == "train" and flag in ("--resume", "--config", "--val", "--init-from") and v not in ("", None):
                    args = [*argv, flag, v]
                must_fail = numeric and v in BAD_NUMBERS
                cases.append(Case("cli options", f"{sub} {flag} {str(v)[:20]!r}", argv=args,
                                  expect=frozenset({2}) if must_fail else frozenset({0, 1, 2})))
    for flag, v in [("--port", "abc"), ("--port", "70000"), ("--port", "-1"), ("--workers", "0"),
                    ("--workers", "999"), ("--host", ""), ("--host", " ")]:  # serve: only values it must refuse
        cases.append(Case("cli options", f"serve {flag} {v!r}", argv=["serve", "m.npz", flag, v],
                          expect=frozenset({2})))
    for argv in (["--threads", "0", "models"], ["--threads", "99999999999999999999", "models"], ["nosuch"], [],
                 ["--version"], ["train", "--recipe", "seed"], ["train", "c.txt", "--recipe", "seed", "--hidden", "3"]):
        cases.append(Case("cli options", " ".join(argv)[:40] or "(nothing)", argv=argv,
                          expect=frozenset({0, 2})))
    return cases


CORPORA: dict[str, bytes] = {
    "empty": b"", "blank lines": b"\n\n  \n\t\n", "one name": b"anna\n", "two names": b"anna\nbob\n",
    "no final newline": b"anna\nbob", "crlf": b"anna\r\nbob\r\neve\r\n", "bom": b"\xef\xbb\xbfanna\nbob\n",
    "invalid utf-8": b"anna\n\xff\xfebob\n", "nul": b"anna\x00\nbob\n", "control": b"an\x07na\nbob\n",
    "long line": b"a" * 70 + b"\n", "very long line": b"b" * 100_000 + b"\n", "binary": bytes(range(256)) * 8,
    "emoji": "🐉\nフィオナ\nzoë\n".encode(), "combining": "e\u0301mile\nzoe\u0308\n".encode(),
    "rtl": "أحمد\nשרה\n".encode(), "line separator": "an\u2028na\nbob\n".encode(), "tab name": b"anna\t\n",
    "labelled two tabs": b"anna\tA\tB\nbob\tA\n", "labelled empty style": b"anna\t\nbob\tA\n",
    "labelled style with =": b"anna\tA=1\nbob\tA\n", "labelled then plain": b"anna\tA\nbob\n",
    "duplicates": b"anna\n" * 500, "many short": b"ab\n" * 20_000, "spaces": b"  anna  \n bob \n",
    "unicode spaces": "anna\u00a0\nbob\u2003\n".encode(), "surrogates": b"\xed\xa0\x80\n", "single char": b"a\n",
    "huge style count": "".join(f"n{i}\tS{i}\n" for i in range(3000)).encode(), "only tabs": b"\t\t\n",
}


def corpus_cases() -> list[Case]:
    cases = []
    for label, data in CORPORA.items():
        def setup(ws, data=data):
            (ws / "bad.txt").write_bytes(data)
        for cmd in (["train", "bad.txt", "--model", "ngram", "--order", "3", "-o", "out.npz"],
                    ["train", "bad.txt", *TINY, "-o", "out.npz"], ["train", "c.txt", *TINY, "--val", "bad.txt",
                                                                   "-o", "out.npz"],
                    ["eval", "m.npz", "bad.txt"], ["score", "m.npz", "--file", "bad.txt"],
                    ["sample", "m.npz", "--exclude-file", "bad.txt", "--novel"], ["classify", "s.npz", "--file", "bad.txt"],
                    ["eval", "s.npz", "bad.txt"]):
            cases.append(Case("corpora", f"{label}: {' '.join(cmd[:2])}", argv=cmd, setup=setup,
                              expect=frozenset({0, 2})))
    specials = {"a directory": ["train", "styles/../styles", "--model", "ngram", "-o", "out.npz"],
                "/dev/zero": ["train", "/dev/zero", "--model", "ngram", "-o", "out.npz"],
                "/dev/null": ["train", "/dev/null", "--model", "ngram", "-o", "out.npz"],
                "missing": ["train", "nosuch.txt", "--model", "ngram", "-o", "out.npz"],
                "empty path": ["train", "", "--model", "ngram", "-o", "out.npz"],
                "fifo": ["train", "fifo", "--model", "ngram", "-o", "out.npz"],
                "symlink loop": ["train", "loop", "--model", "ngram", "-o", "out.npz"],
                "folder with a stray file": ["train", "styles", "--model", "ngram", "-o", "out.npz"]}

    def special_setup(ws):
        os.mkfifo(ws / "fifo")
        (ws / "loop").symlink_to(ws / "loop")
        (ws / "styles" / "README").write_text("not a style\n")
    for label, cmd in specials.items():
        cases.append(Case("corpora", label, argv=cmd, setup=special_setup, expect=frozenset({0, 2})))
    return cases


def output_cases() -> list[Case]:
    targets = {"a folder": "styles", "/dev/null": "/dev/null", "a fifo": "fifo", "the corpus": "c.txt",
               "the model (another run)": "m.npz", "its last state": "m.last.npz", "a side name": "x.neural.npz",
               "a user's notes": "notes.txt", "a link to the notes": "link", "a link loop": "loop", "empty": "",
               "a dot": ".", "deep new folder": "a/b/c/out.npz", "very long": "y" * 300 + ".npz",
               "newline": "bad\nname.npz", "non-UTF-8": "caf\udce9.npz", "dash": "-", "a dangling link": "dangling",
               "the config": "t.toml", "a lock name": ".m.npz.lock"}

    def setup(ws):
        os.mkfifo(ws / "fifo")
        (ws / "link").symlink_to(ws / "notes.txt")
        (ws / "loop").symlink_to(ws / "loop")
        (ws / "dangling").symlink_to(ws / "nowhere" / "x.npz")
    cases = []
    for label, target in targets.items():
        for cmd, may in ((["train", "c.txt", *TINY, "-o", target], ()),
                         (["train", "c.txt", *TINY, "-o", target, "--force"], ("m.npz", "m.last.npz", "m.neural.npz",
                                                                              "m.metrics.jsonl")),
                         (["train", "c.txt", "--model", "ngram", "--config", "t.toml", "-o", target], ()),
                         (["train", "c.txt", "--recipe", "seed", "--steps", "3", "-o", target], ()),
                         (["mix", "m.npz", "m.npz", "-o", target], ()), (["plot", "m.npz", "-o", target], ()),
                         (["eval", "s.npz", "l.tsv", "--confusion", target], ())):
            cases.append(Case("outputs", f"{label}: {cmd[0]}{' --force' if '--force' in cmd else ''}", argv=cmd,
                              setup=setup, outputs=may, expect=frozenset({0, 2})))
    return cases


def _rewrite(src: Path, dst: Path, edit) -> None:
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)
    with open(dst, "wb") as f:
        np.savez(f, **arrays)


def _meta_edit(fn):
    def edit(arrays):
        meta = json.loads(arrays["__meta__"].tobytes())
        meta = fn(meta)
        raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
        arrays["__meta__"] = np.frombuffer(raw, dtype=np.uint8)
    return edit


def _first_param(arrays, fn):
    key = next(k for k in arrays if k.startswith("param/"))
    arrays[key] = fn(arrays[key])


MUTATIONS: dict[str, Callable] = {
    "nan weight": lambda a: _first_param(a, lambda x: np.full_like(x, np.nan) if x.dtype.kind == "f" else x - 10**6),
    "huge weight": lambda a: _first_param(a, lambda x: np.full_like(x, 3e38) if x.dtype.kind == "f" else x * 0 - 1),
    "wrong shape": lambda a: _first_param(a, lambda x: np.zeros(x.shape[:1] + (x.shape[-1] + 1,), x.dtype)),
    "float16": lambda a: _first_param(a, lambda x: np.clip(x, -6e4, 6e4).astype(np.float16)),
    "0-d": lambda a: _first_param(a, lambda x: np.array(x.ravel()[0])),
    "missing param": lambda a: a.pop(next(k for k in a if k.startswith("param/"))),
    "extra param": lambda a: a.__setitem__("param/zzz", np.zeros(3, np.float32)),
    "stray member": lambda a: a.__setitem__("junk", np.zeros(3)),
    "bad extra": lambda a: a.__setitem__("extra/known_hashes", np.arange(5, 0, -1).astype(np.uint64)),
    "descending quantiles": lambda a: a.__setitem__("extra/train_nll_quantiles", np.linspace(3, 1, 11)),
    "no meta": lambda a: a.pop("__meta__"),
    "meta not json": _meta_edit(lambda m: b"{not json"),
    "meta deep": _meta_edit(lambda m: b"[" * 100_000 + b"]" * 100_000),
    "meta huge number": _meta_edit(lambda m: {**m, "train": {**m.get("train", {}), "step": 10**400}}),
    "meta wrong format": _meta_edit(lambda m: {**m, "format": "other"}),
    "meta version 99": _meta_edit(lambda m: {**m, "version": 99}),
    "meta model type": _meta_edit(lambda m: {**m, "model": {"type": ["rnn"], "config": {}}}),
    "meta vocab duplicate": _meta_edit(lambda m: {**m, "vocab": {"chars": ["\n", "a", "a"]}}),
    "meta vocab no end": _meta_edit(lambda m: {**m, "vocab": {"chars": ["a", "b"]}}),
    "meta corpus string": _meta_edit(lambda m: {**m, "corpus": "x"}),
    "meta styles mismatch": _meta_edit(lambda m: {**m, "styles": {"names": ["A"], "counts": [1]}}),
    "meta config huge": _meta_edit(lambda m: {**m, "model": {**m["model"], "config": {**m["model"]["config"],
                                                                                      "hidden": 10**9}}}),
    "meta step string": _meta_edit(lambda m: {**m, "train": {**m.get("train", {}), "step": "abc"}}),
    "meta run id odd": _meta_edit(lambda m: {**m, "run": {"id": 5}}),
    "meta optimizer odd": _meta_edit(lambda m: {**m, "optimizer": {"type": "adam", "t": -1, "hyper": []}}),
}
RAW_MUTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "empty file": lambda b: b"", "not a zip": lambda b: b"hello world" * 10, "truncated half": lambda b: b[: len(b) // 2],
    "truncated tail": lambda b: b[:-10], "flipped bytes": lambda b: bytes(x ^ 0xFF if i % 97 == 3 else x
                                                                         for i, x in enumerate(b)),
    "zeroed middle": lambda b: b[: len(b) // 3] + bytes(len(b) // 3) + b[2 * len(b) // 3:],
}


def _zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__meta__.npy", b"\0" * (1100 << 20))


def checkpoint_cases() -> list[Case]:
    cases = []
    commands = [["sample", "bad.npz", "-n", "3"], ["score", "bad.npz", "anna"], ["eval", "bad.npz", "c.txt"],
                ["classify", "bad.npz", "anna"], ["train", "--resume", "bad.npz", "--steps", "5"],
                ["train", "c.txt", *TINY, "--init-from", "bad.npz", "-o", "out.npz"]]
    for model in ("m.npz", "m.last.npz", "g.npz", "s.npz"):
        for label, edit in MUTATIONS.items():
            def setup(ws, model=model, edit=edit):
                _rewrite(ws / model, ws / "bad.npz", edit)
            for cmd in commands:
                cases.append(Case("checkpoints", f"{model} {label}: {cmd[0]}", argv=cmd, setup=setup,
                                  expect=frozenset({0, 1, 2})))
        for label, edit in RAW_MUTATIONS.items():
            def setup(ws, model=model, edit=edit):
                (ws / "bad.npz").write_bytes(edit((ws / model).read_bytes()))
            for cmd in commands[:3]:
                cases.append(Case("checkpoints", f"{model} {label}: {cmd[0]}", argv=cmd, setup=setup,
                                  expect=frozenset({2})))
    for cmd in commands[:2]:
        cases.append(Case("checkpoints", f"zip bomb: {cmd[0]}", argv=cmd, setup=lambda ws: _zip_bomb(ws / "bad.npz"),
                          expect=frozenset({2})))
        cases.append(Case("checkpoints", f"a directory: {cmd[0]}", argv=cmd,
                          setup=lambda ws: (ws / "bad.npz").mkdir(), expect=frozenset({2})))
    return cases


BAD_VALUES = [None, True, "yes", -1, 0, 2.5, float("nan"), float("inf"), 10**30, "", "x" * 5000, [], {}, b"a",
              object(), ["a"], {"A": 1}, np.int64(3), np.float32(0.5)]


def api_cases() -> list[Case]:
    import namesmith
    from namesmith.config import FIELDS
    from namesmith.sample import SampleOptions
    from dataclasses import fields as dc_fields

    cases = []
    rng = random.Random(7)
    for f in dc_fields(SampleOptions):
        for v in BAD_VALUES:
            cases.append(Case("api", f"sample {f.name}={v!r:.20}", expect=frozenset({0, 2}),
                              call=lambda ws, k=f.name, v=v: namesmith.load(str(ws / "m.npz")).sample(
                                  **{"n": 3, "seed": 1, k: v})))
    for name in ("n", "seed", "style"):
        for v in BAD_VALUES:
            args = {"n": 3, "seed": 1, name: v}
            cases.append(Case("api", f"sample {name}={v!r:.20}", call=lambda ws, a=args: namesmith.load(
                str(ws / "s.npz")).sample(a.pop("n"), **a)))
    for method, first in (("score", ["anna"]), ("classify", ["anna"]), ("evaluate", ["anna"]), ("best", 3)):
        for arg in BAD_VALUES + [["anna", 5], ["", "bob"], ["\udcff"], ["a\nb"], ["x" * 10_000]]:
            model = "s.npz" if method == "classify" else "m.npz"
            cases.append(Case("api", f"{method}({arg!r:.20})", call=lambda ws, m=method, a=arg, mo=model: getattr(
                namesmith.load(str(ws / mo)), m)(a)))
        import inspect

        accepts = set(inspect.signature(getattr(namesmith.Checkpoint, method)).parameters)
        for kw in ("fold_accents", "uniform_prior", "strict", "top", "style", "min_len"):
            if kw not in accepts and "options" not in accepts:
                continue  # an unknown keyword is Python's own TypeError, not the API's check
            for v in rng.sample(BAD_VALUES, 6):
                model = "s.npz" if method == "classify" else "m.npz"
                cases.append(Case("api", f"{method}({kw}={v!r:.20})", call=lambda ws, m=method, f=first, k=kw, v=v,
                                  mo=model: getattr(namesmith.load(str(ws / mo)), m)(f, **{k: v})))
    for name in sorted(FIELDS):
        for v in rng.sample(BAD_VALUES, 5):
            cases.append(Case("api", f"fit {name}={v!r:.20}", timeout=60,
                              expect=frozenset({0, 1, 2}),  # 1: a run that failed on valid options (lr=3 diverges)
                              call=lambda ws, k=name, v=v: namesmith.fit(log=lambda s: None, **{
                                  "corpus": str(ws / "c.txt"), "model": "rnn", "hidden": 8, "steps": 3,
                                  "eval_every": 2, "samples": 0, "mix_ngram": 0, k: v})))
    for v in BAD_VALUES + ["nosuch.npz", "world", "c.txt"]:
        cases.append(Case("api", f"load({v!r:.20})", call=lambda ws, v=v: namesmith.load(v)))
        cases.append(Case("api", f"mix({v!r:.20})", call=lambda ws, v=v: namesmith.mix(v)))
        cases.append(Case("api", f"save({v!r:.20})", call=lambda ws, v=v: namesmith.load(str(ws / "m.npz")).save(v)))
    return cases


def signal_cases() -> list[Case]:
    cases = []

    def interrupt(argv, delay):
        def proc(ws):
            p = subprocess.Popen([sys.executable, "-m", "namesmith", *argv], cwd=ws, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            time.sleep(delay)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=60)
            return p.returncode, out, err
        return proc

    long_train = ["train", "c.txt", "--model", "rnn", "--hidden", "32", "--steps", "100000", "--samples", "0",
                  "--no-progress", "--mix-ngram", "0", "-o", "out.npz"]
    for delay in (0.15, 0.3, 0.5, 1.0, 2.0):
        for argv in (long_train, ["sample", "m.npz", "-n", "10000000"], ["eval", "m.npz", "c.txt", "--samples",
                                                                          "100000"],
                     ["train", "c.txt", "--ensemble", "2", *TINY[:-2], "--steps", "100000", "-o", "out.npz"]):
            cases.append(Case("signals", f"Ctrl-C after {delay}s: {' '.join(argv[:2])}", proc=interrupt(argv, delay),
                              expect=frozenset({0, 130})))

    def closed_stdout(argv):
        def proc(ws):
            cmd = " ".join(f"'{a}'" for a in argv)
            r = subprocess.run(["sh", "-c", f'exec "{sys.executable}" -m namesmith {cmd} >&-'], cwd=ws,
                               capture_output=True, text=True, timeout=60)
            return r.returncode, r.stdout, r.stderr
        return proc

    def full_stdout(argv):
        def proc(ws):
            with open("/dev/full", "w") as full:
                r = subprocess.run([sys.executable, "-m", "namesmith", *argv], cwd=ws, stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=60)
            return r.returncode, "", r.stderr
        return proc

    for argv in (["sample", "m.npz"], ["score", "m.npz", "anna"], ["eval", "m.npz", "c.txt"], ["models"],
                 ["corpora"], ["classify", "s.npz", "anna"], ["train", "c.txt", *TINY, "-o", "out.npz"]):
        cases.append(Case("signals", f"closed stdout: {argv[0]}", proc=closed_stdout(argv), expect=frozenset({0, 1})))
        cases.append(Case("signals", f"full stdout: {argv[0]}", proc=full_stdout(argv), expect=frozenset({0, 1})))
    return cases


def concurrency_cases() -> list[Case]:
    slow = ["--model", "rnn", "--hidden", "16", "--samples", "0", "--no-progress", "--mix-ngram", "0",
            "--eval-every", "20"]

    def race(a, b):
        def proc(ws):
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
            p = subprocess.Popen([sys.executable, "-m", "namesmith", *a], cwd=ws, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
            time.sleep(0.6)
            q = subprocess.run([sys.executable, "-m", "namesmith", *b], cwd=ws, capture_output=True, text=True,
                               env=env, timeout=120)
            out, err = p.communicate(timeout=120)
            codes = {p.returncode, q.returncode}
            return max(codes - {0}, default=0), out + q.stdout, err + q.stderr
        return proc

    pairs = {"same -o": (["train", "c.txt", *slow, "--steps", "300", "-o", "o.npz"],
                         ["train", "c.txt", *slow, "--steps", "20", "-o", "o.npz"]),
             "-o o and -o o.npz": (["train", "c.txt", *slow, "--steps", "300", "-o", "o.npz"],
                                   ["train", "c.txt", *slow, "--steps", "20", "-o", "o"]),
             "-o o.npz and o.last.npz": (["train", "c.txt", *slow, "--steps", "300", "-o", "o.npz"],
                                         ["train", "c.txt", *slow, "--steps", "20", "-o", "o.last.npz"]),
             "resume while training": (["train", "c.txt", *slow, "--steps", "300", "-o", "o.npz"],
                                       ["train", "--resume", "o.last.npz", "--steps", "310"]),
             "sample while training": (["train", "c.txt", *slow, "--steps", "300", "-o", "o.npz"],
                                       ["sample", "o.npz", "-n", "5"]),
             "two mixes": (["mix", "m.npz", "m.npz", "-o", "e.npz"], ["mix", "m.npz", "m.npz", "-o", "e.npz"]),
             "two plots": (["plot", "m.npz", "-o", "p.png"], ["plot", "m.npz", "-o", "p.png"]),
             "train over a model in use": (["sample", "m.npz", "-n", "200000"],
                                           ["train", "c.txt", *slow, "--steps", "20", "-o", "m.npz", "--force"])}
    return [Case("concurrency", label, proc=race(a, b), expect=frozenset({0, 2}), timeout=240,
                 outputs=("m.npz", "m.last.npz", "m.neural.npz", "m.metrics.jsonl"))
            for label, (a, b) in pairs.items()]


# ----- running a case ------------------------------------------------------------------------------------------
def judge(case: Case, code, out: str, err: str, before: dict, ws: Path, seconds: float, rss: float,
          max_rss: float) -> Result:
    res = Result(case, code, seconds, rss)
    if code is None:
        res.failures.append("hang")
    if "Traceback" in out + err or code == 99:
        res.failures.append("traceback")
    elif code not in (None, 0):
        last = [x for x in err.strip().splitlines() if x.strip()]
        if not last or not (last[-1].startswith("namesmith: error:") or last[-1] == "namesmith: interrupted"):
            res.failures.append("traceback")  # not one clear line
    if code is not None and code not in case.expect:
        res.failures.append("exit")
    after = snapshot(ws)
    for name, digest in before.items():
        if name not in case.outputs and after.get(name) != digest and name != "bad.npz" and not name.startswith(
                "bad."):
            res.failures.append("file")
            res.detail += f" changed/removed {name};"
    asked = set(case.argv or ())
    left = [n for n in after if ((".namesmith-" in n and n.endswith(".tmp")) or n.endswith(".lock")) and n not in asked]
    if left and code is not None:
        res.failures.append("file")
        res.detail += f" left {left};"
    if rss > max_rss:
        res.failures.append("memory")
    if res.failures:
        res.detail += f" exit {code}; stderr: {err.strip()[-400:]!r}"
    return res


def run_forked(case: Case, ws: Path, max_rss: float) -> Result:
    before = snapshot(ws)
    out_path, err_path = ws / ".out", ws / ".err"
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: the case, then exit with its code
        code = 99
        try:
            os.chdir(ws)
            fo, fe = os.open(out_path, os.O_WRONLY | os.O_CREAT), os.open(err_path, os.O_WRONLY | os.O_CREAT)
            os.dup2(fo, 1)
            os.dup2(fe, 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if case.argv is not None:
                from namesmith.cli import main
                code = main(list(case.argv))
            else:
                from namesmith.errors import NamesmithError
                try:
                    case.call(ws)
                    code = 0
                except NamesmithError as e:
                    print(f"namesmith: error: {e}", file=sys.stderr)
                    code = e.exit_code
        except BaseException:
            traceback.print_exc()
            code = 99
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:
                pass
            os._exit(code)
    deadline = time.perf_counter() + case.timeout
    code, rss = None, 0.0
    while True:
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid:
            code = os.waitstatus_to_exitcode(status)
            rss = usage.ru_maxrss / 1024
            break
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            break
        time.sleep(0.002)
    read = lambda p: p.read_text(errors="replace") if p.exists() else ""  # noqa: E731
    return judge(case, code, read(out_path), read(err_path), before, ws, time.perf_counter() - t0, rss, max_rss)


def run_process(case: Case, ws: Path, max_rss: float) -> Result:
    before = snapshot(ws)
    t0 = time.perf_counter()
    try:
        code, out, err = case.proc(ws)
    except subprocess.TimeoutExpired:
        code, out, err = None, "", "timeout"
    return judge(case, code, out, err, before, ws, time.perf_counter() - t0, 0.0, max_rss)


_FIXTURES: Path | None = None
_CASES: list[Case] = []


def _init(fixtures: str, classes: list[str], limit: int | None, seed: int) -> None:
    global _FIXTURES, _CASES
    _FIXTURES = Path(fixtures)
    _CASES = make_cases(classes, limit, seed)


def run_one(i: int, max_rss: float = 2048.0) -> Result:
    case = _CASES[i]
    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        ws = Path(d) / "ws"
        shutil.copytree(_FIXTURES, ws, symlinks=True)
        if case.setup is not None:
            case.setup(ws)
        res = run_process(case, ws, max_rss) if case.proc else run_forked(case, ws, max_rss)
    res.case = Case(case.cls, case.name)  # picklable: the callables stay in the worker
    return res


GENERATORS = {"cli options": cli_cases, "corpora": corpus_cases, "outputs": output_cases,
              "checkpoints": checkpoint_cases, "api": api_cases, "signals": signal_cases,
              "concurrency": concurrency_cases}


def make_cases(classes: list[str], limit: int | None, seed: int) -> list[Case]:
    cases = []
    for cls in classes:
        made = GENERATORS[cls]()
        if limit is not None and len(made) > limit:
            made = random.Random(seed).sample(made, limit)
        cases.extend(made)
    return cases


# ----- the web server ----------------------------------------------------------------------------------------------
def http_requests(rng: random.Random) -> list[tuple[str, bytes]]:
    """(label, raw request) pairs: fields x hostile values, malformed JSON and framing, odd methods and paths."""
    from namesmith.web.app import ClassifyRequest, GenerateRequest, ScoreRequest

    values = [None, True, "yes", -1, 0, 2.5, 1e308, -1e308, 10**30, "", "x" * 5000, [], {}, ["a"], {"A": 1}, "é",
              "Italian=0.7,German=0.3", {"A": -1}, [[[]]], 2**53]
    out = []
    for path, model in (("/api/generate", GenerateRequest), ("/api/score", ScoreRequest),
                        ("/api/classify", ClassifyRequest)):
        for name in model.model_fields:
            for v in values:
                body = {"name": "anna"} if path != "/api/generate" else {}
                body[name] = v
                out.append((f"{path} {name}={v!r:.20}", _post(path, json.dumps(body).encode())))
    for label, body in (("not json", b"{not json"), ("array", b"[1,2]"), ("deep", b"[" * 5000 + b"]" * 5000),
                        ("4500 digits", b'{"n": ' + b"9" * 4500 + b"}"), ("nan", b'{"temperature": NaN}'),
                        ("utf-16", '{"n": 2}'.encode("utf-16")), ("latin-1", b'{"prefix": "\xe9"}'),
                        ("big", b'{"prefix": "' + b"a" * 20000 + b'"}'), ("empty", b""), ("null", b"null")):
        for path in ("/api/generate", "/api/score", "/api/classify"):
            out.append((f"{path} {label}", _post(path, body)))
    raw = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /static/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
           b"DELETE /api/generate HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /nosuch HTTP/1.1\r\nHost: x\r\n\r\n",
           b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
           b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
           b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
           b"POST /api/generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"GET /healthz\r\n\r\n", b"\x16\x03\x01\x00\x05hello",
           b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
           b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"b" * 100_000 + b"\r\n\r\n",
           b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", b"get /healthz http/1.1\r\n\r\n"]
    out += [(f"raw {r[:30]!r}", r) for r in raw]
    for _ in range(60):  # random bytes after a valid start
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        out.append(("junk", b"POST /api/generate HTTP/1.1\r\n" + junk + b"\r\n\r\n"))
    return out


def _post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


def _exchange(port: int, raw: bytes, timeout: float = 15.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(raw)
        except OSError:
            pass
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except (socket.timeout, ConnectionResetError):
            pass
    return b"".join(chunks)


def run_http(fixtures: Path, limit: int | None, seed: int) -> list[Result]:
    rng = random.Random(seed)
    reqs = http_requests(rng)
    if limit is not None and len(reqs) > limit:
        reqs = rng.sample(reqs, limit)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "namesmith", "serve", f"m={fixtures / 'm.npz'}",
                               f"s={fixtures / 's.npz'}", "--port", str(port), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    results = []
    try:
        for _ in range(200):
            try:
                if b" 200 " in _exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 2):
                    break
            except OSError:
                time.sleep(0.1)
        for label, raw in reqs:
            t0 = time.perf_counter()
            res = Result(Case("http", label), None, 0.0, 0.0)
            try:
                answer = _exchange(port, raw)
                status_line, _, rest = answer.partition(b"\r\n")
                status = int(status_line.split(b" ")[1]) if status_line.startswith(b"HTTP/1.1 ") else None
                body = rest.partition(b"\r\n\r\n")[2]
                res.code = status
                ok = status is not None and (200 <= status < 300 or 400 <= status < 500 or status in (503, 505))
                if ok and (not raw.startswith(b"GET / ") and not raw.startswith(b"get ")) and status != 200:
                    ok = "error" in json.loads(body)
                elif ok and status == 200 and b"application/json" in rest.partition(b"\r\n\r\n")[0].lower():
                    json.loads(body)
                if not ok:
                    res.failures.append("http")
                    res.detail = answer[:300].decode("latin-1")
            except (OSError, ValueError, IndexError) as e:
                res.failures.append("http")
                res.detail = f"{type(e).__name__}: {e}"
            res.seconds = time.perf_counter() - t0
            results.append(res)
        try:  # still alive, and no traceback on its stderr
            alive = b" 200 " in _exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        except OSError:
            alive = False
        if not alive:
            results.append(Result(Case("http", "server still answering"), None, 0, 0, ["http"], "no answer"))
    finally:
        server.terminate()
        err = server.communicate(timeout=20)[1]
    if "Traceback" in err:
        results.append(Result(Case("http", "server stderr"), None, 0, 0, ["traceback"], err[-400:]))
    return results


# ----- the run --------------------------------------------------------------------------------------------------
KINDS = ("traceback", "hang", "file", "exit", "memory", "http")


def summary(results: list[Result]) -> str:
    classes = sorted({r.case.cls for r in results}, key=lambda c: list(GENERATORS).index(c) if c in GENERATORS
                     else 99)
    rows = ["| class | cases | " + " | ".join(KINDS) + " | failed cases |", "|---|---|" + "---|" * len(KINDS) + "---|"]
    for cls in classes + ["all"]:
        mine = [r for r in results if cls == "all" or r.case.cls == cls]
        counts = [sum(k in r.failures for r in mine) for k in KINDS]
        name = f"**{cls}**" if cls == "all" else cls
        rows.append(f"| {name} | {len(mine):,} | " + " | ".join(map(str, counts))
                    + f" | {sum(bool(r.failures) for r in mine)} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", default=",".join([*GENERATORS, "http"]))
    ap.add_argument("--limit", type=int, help="at most this many cases per class (a seeded sample)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-rss", type=float, default=2048.0, help="MB of peak RSS a case may use")
    ap.add_argument("--json", help="write every failure here")
    a = ap.parse_args()
    classes = a.classes.split(",")
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="fuzz-fixtures-") as d:
        fixtures = Path(d) / "fx"
        fixtures.mkdir()
        build_fixtures(fixtures)
        forked = [c for c in classes if c in GENERATORS]
        _init(str(fixtures), forked, a.limit, a.seed)
        n = len(_CASES)
        print(f"fuzz: {n:,} cases in {len(forked)} classes, {a.jobs} at a time", file=sys.stderr, flush=True)
        import multiprocessing

        with ProcessPoolExecutor(a.jobs, mp_context=multiprocessing.get_context("fork"), initializer=_init,
                                 initargs=(str(fixtures), forked, a.limit, a.seed)) as ex:
            results = list(ex.map(run_one, range(n), [a.max_rss] * n, chunksize=4))
        if "http" in classes:
            results += run_http(fixtures, a.limit, a.seed)
    failed = [r for r in results if r.failures]
    print(f"fuzz: {len(results):,} cases in {time.time() - t0:.0f} s; {len(failed)} failed", file=sys.stderr)
    print(summary(results))
    for r in failed[:40]:
        print(f"- {r.case.cls} / {r.case.name}: {', '.join(r.failures)}:{r.detail}", file=sys.stderr)
    if a.json:
        Path(a.json).write_text(json.dumps([{"class": r.case.cls, "case": r.case.name, "failures": r.failures,
                                             "code": r.code, "detail": r.detail} for r in failed], indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
