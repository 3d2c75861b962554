"""The ``namesmith`` command line: argparse subcommands, thin over the Python API (:mod:`namesmith.api`).

User errors end in one line on stderr and exit code 2 (argparse's too: never the
usage text); a failed run (divergence, a full disk) exits 1; Ctrl-C exits 130
after saving. Numerical warnings are never printed: results are checked for
finiteness instead and a bad one is a one-line error.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import sys
import warnings
from dataclasses import MISSING, fields, replace
from pathlib import Path

import numpy as np

from ._version import __version__
from .api import fit, load, mix, pretrained_models
from . import export
from .onnx_export import write_onnx
from .pretrained import pretrained_path
from .config import FIELDS, PRESETS, TrainConfig
from .corpus import LONGEST_NAME, builtin_corpora, load_corpus, read_corpus, read_text
from .errors import ConfigError, ConstraintError, NamesmithError, WriteFailed
from .files import OutputLock, ensure_writable, output_target, refuse_inputs
from .plot import plot_confusion, plot_run
from .rng import check_seed
from .runfiles import check_png, check_replace, new_run
from .runtime import blas_default, keep_freed_memory
from .options import specs
from .sample import SampleOptions, option_kwargs
from .score import RANK_MIN, generation_report, perplexity
from .text import capitalised

class UsageError(NamesmithError):
    """A command line argparse cannot parse."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (and a pointer to --help) instead of the usage text."""

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


KIND_TYPES = {"int": int, "float": float, "text": str, "choice": str, "style": str}


def add_declared(p, cls, skip=()) -> None:
    """One flag per declared option of ``cls`` (:mod:`namesmith.options`): its spelling, type, choices and help
    come from the declaration, bools as ``--x/--no-x`` (or ``--x`` alone when off by default)."""
    for name, (f, s) in specs(cls).items():
        if not s.cli or name in skip:
            continue
        flags = s.flags or (_flag(name),)
        default = f.default if f.default is not MISSING else None
        if s.kind == "bool":
            action = "store_true" if default is False else argparse.BooleanOptionalAction
            p.add_argument(*flags, action=action, default=argparse.SUPPRESS, dest=name, help=s.help)
        else:
            shown = "" if default in (None, "") else f" (default {default})"
            p.add_argument(*flags, type=KIND_TYPES[s.kind], choices=s.choices() if s.choices else None,
                           default=argparse.SUPPRESS, dest=name, metavar=None if s.choices else name.upper(),
                           help=s.help + shown)


def declared(args, cls) -> dict:
    """The declared options of ``cls`` that the command line gave."""
    return {name: getattr(args, name) for name in specs(cls) if hasattr(args, name)}


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is in [0, 65535], got {port}")
    return port


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (default: the built-in corpus, the default model, about 2 minutes on 2 cores)",
        description="Train a model on CORPUS (a file with one name per line, name<TAB>style lines, a folder of "
        "STYLE.txt files or a built-in corpus name; default: the built-in given names). Options override "
        "--preset and --config.",
    )
    p.add_argument("corpus", nargs="?", default=argparse.SUPPRESS, help="corpus file or built-in corpus name")
    p.add_argument("-o", "--out", default=argparse.SUPPRESS, help="where to save the best model (default model.npz)")
    p.add_argument("--recipe", choices=["seed"], help="'seed': reproduce the tutorial notebook")
    p.add_argument("--config", metavar="TOML", help="read training options from a TOML file")
    p.add_argument("--preset", choices=sorted(PRESETS), default=argparse.SUPPRESS, help="a named configuration")
    p.add_argument("--resume", metavar="CKPT", help="continue a run from its checkpoint, bit for bit")
    p.add_argument("--no-progress", action="store_true", help="plain log lines even on a terminal")
    p.add_argument("--force", action="store_true",
                   help="replace the model and files of another run at -o (a file namesmith did not write never is)")
    add_declared(p, TrainConfig)
    p.set_defaults(func=cmd_train)


def _add_sample_options(p, skip=()) -> None:
    g = p.add_argument_group("generation controls (namesmith.sample.SampleOptions)")
    add_declared(g, SampleOptions, skip)
    g.add_argument("--exclude-file", help="also avoid the names in this file (one per line)")
    g.add_argument("--keys", metavar="FILE", help="one name per line of FILE, each line a key (see --key), in order; "
                   "with --unique no name twice across the file")


def build_parser() -> Parser:
    ap = Parser(
        prog="namesmith",
        description="Character-level language models in NumPy that learn from a list of names and forge new ones.",
    )
    ap.add_argument("--version", action="version", version=f"namesmith {__version__}")
    ap.add_argument("--threads", type=int, metavar="N",
                    help="BLAS threads for matrix products (default: chosen by measurement while training, "
                    "1 for every other command)")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_train(sub)

    p = sub.add_parser("sample", help="generate names from a trained model")
    p.add_argument("model", nargs="?", default="given-names",
                   help="model file (.npz) or a shipped model's name (namesmith models; default: given-names)")
    _add_sample_options(p)
    p.add_argument("--format", choices=["text", "json", "csv"], default="text")
    p.add_argument("--raw", action="store_true", help="text output without capitalising the first letter")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("similar", help="new names close to names you like (sample --like): under their styles, "
                       "ranked by edit distance and plausibility")
    p.add_argument("model", help="model file (.npz) or a shipped model's name (namesmith models)")
    p.add_argument("names", nargs="+", metavar="NAME", help="the names you like")
    _add_sample_options(p, skip=("like", "best"))
    p.add_argument("--format", choices=["text", "json", "csv"], default="text")
    p.add_argument("--raw", action="store_true", help="text output without capitalising the first letter")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("eval", help="held-out NLL of a model on a corpus (nats/char, end token included)")
    p.add_argument("model")
    p.add_argument("corpus", help="corpus file or built-in corpus name")
    p.add_argument("--json", action="store_true")
    p.add_argument("--strict", action="store_true",
                   help="refuse names with characters the model never saw (default: skip and report them)")
    p.add_argument("--fold-accents", action="store_true", help="read accented letters the model never saw as plain")
    p.add_argument("--samples", type=int, default=0, metavar="N",
                   help="also generate N names at temperatures 0.5, 0.8, 1.0 and report their statistics")
    p.add_argument("--seed", type=int, default=0, help="seed for --samples")
    p.add_argument("--uniform-prior", action="store_true",
                   help="labelled corpora: classify with equal style priors instead of the training shares")
    p.add_argument("--confusion", metavar="PNG", help="labelled corpora: draw the confusion matrix (needs matplotlib)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("mix", help="an ensemble: the networks of several runs on one corpus split + an n-gram")
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="finished runs (namesmith train) with the same corpus, --seed and validation split")
    p.add_argument("-o", "--out", default="ensemble.npz", help="where to save the ensemble (default ensemble.npz)")
    p.add_argument("--order", type=int, default=6, help="the Kneser-Ney n-gram's order (default 6)")
    p.add_argument("--force", action="store_true", help="replace another run's model at -o")
    p.set_defaults(func=cmd_mix)

    p = sub.add_parser("classify", help="which style does a name sound like? p(style | name) from a styled model")
    p.add_argument("model")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--file", help="classify every name in this file (one per line)")
    p.add_argument("--top", type=int, metavar="K", help="show the K most probable styles (default 3; all with --json)")
    p.add_argument("--uniform-prior", action="store_true", help="equal style priors instead of the training shares")
    p.add_argument("--fold-accents", action="store_true", help="read accented letters the model never saw as plain")
    p.add_argument("--json", action="store_true", help="a list in input order: name, style, probability, styles")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("score", help="how plausible is a name? log-probability and surprisal per character")
    p.add_argument("model")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--file", help="score every name in this file (one per line)")
    p.add_argument("--explain", action="store_true", help="show each character's surprisal")
    p.add_argument("--fold-accents", action="store_true", help="read accented letters the model never saw as plain")
    p.add_argument("--style", help="score under this style or blend (a model trained on a labelled corpus)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("models", help="list the pretrained models shipped with namesmith (use them by name)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("corpora", help="list the built-in corpora")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_corpora)

    p = sub.add_parser("plot", help="draw training and validation loss curves to a PNG (needs matplotlib)")
    p.add_argument("run", help="a model file, its .metrics.jsonl, or the run's -o path")
    p.add_argument("-o", "--out", help="PNG file or folder (default: next to the metrics file)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("export", help="run a model outside Python: a static web page, a portable JSON file, "
                                      "or the network's step as ONNX")
    p.add_argument("model", help="a model file or a shipped model's name")
    to = p.add_mutually_exclusive_group(required=True)
    to.add_argument("--web", metavar="DIR", help="a folder for a static site that generates names offline "
                                                 "(index.html, namesmith.js, model.js)")
    to.add_argument("--json", metavar="FILE", help="the weights, vocabulary and options as one documented "
                                                   "JSON file (docs/export-format.md)")
    to.add_argument("--onnx", metavar="FILE", help="the network's single step as an ONNX graph (needs onnx)")
    p.add_argument("--include-names", metavar="CORPUS",
                   help="put this corpus's names in the export (default: only their hashes, for novel-only)")
    p.add_argument("--title", help="the web page's title (default: the model's corpus)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="serve the name-generator web page and JSON API")
    p.add_argument("models", nargs="*", metavar="[NAME=]MODEL", help="model files (default: the built-in model)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--access-log", action="store_true", help="print a line per request on stderr")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes, each with the models loaded and one BLAS thread (default: one per core)")
    p.set_defaults(func=cmd_serve)
    return ap


# ----- commands ----------------------------------------------------------------------
def _out(text: str) -> None:
    """Write to stdout now; a closed or full stdout is one line (exit 1), a closed pipe ends quietly (exit 0)."""
    if sys.stdout is None:
        raise WriteFailed("standard output is closed, so the results cannot be printed; redirect it to a file")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        raise WriteFailed(f"cannot write to standard output: {e.strerror or e}") from None


def cmd_train(args) -> int:
    explicit = declared(args, TrainConfig)
    if args.recipe == "seed":
        return _train_seed(args, explicit)
    ck = fit(resume=args.resume, config=args.config, progress=not args.no_progress and sys.stderr.isatty(),
             tune_process=args.threads is None, defaults={"out": "model.npz"}, force=args.force, **explicit)
    run = ck.run
    lines = []
    if ck.val_nll is not None:
        v = ck.val_nll
        lines.append(f"held-out NLL {v:.4f} nats/char ({v / math.log(2):.4f} bits/char, "
                     f"perplexity {perplexity(v):.3f}) on the validation names")
    lines.append(f"stopped: {run.stopped} after {run.steps} steps in {run.seconds:.1f}s")
    lines.append(_saved(run.paths))
    lines.append(f"{len(run.samples)} new names (not in the training list):" if run.samples_novel else
                 "sample names (the model makes few names that are not in its training list):")
    lines += [f"  {capitalised(n) if ck.lowercase else n}" for n in run.samples]
    _out("\n".join(lines) + "\n")
    return 0


def _saved(paths) -> str:
    roles = [(paths.best, "the model"), (paths.neural, "the network alone"),
             (paths.last, "the last state, for --resume"), (paths.metrics, "metrics")]
    return "saved " + ", ".join(f"{p} ({role})" for p, role in roles if p.exists())


def _train_seed(args, explicit: dict) -> int:
    from .recipes.seed import save_seed_checkpoint, train_seed

    allowed = {"corpus", "out", "steps", "log_every"}
    extra = sorted(set(explicit) - allowed)
    if extra or args.resume or args.config:
        bad = extra + (["resume"] if args.resume else []) + (["config"] if args.config else [])
        raise ConfigError(f"--recipe seed is the notebook as it is; it takes only CORPUS, -o, --steps and "
                          f"--log-every (not {', '.join('--' + b.replace('_', '-') for b in bad)})")
    corpus = explicit.get("corpus")
    if corpus is None:
        raise ConfigError("--recipe seed needs a corpus file (the notebook used names.txt)")
    iterations = explicit.get("steps", 200_000)
    log_every = explicit.get("log_every", 10_000)
    if not 0 <= iterations <= 10**9 or log_every < 1:
        raise ConfigError("--steps must be in [0, 1e9] and --log-every >= 1")
    out = explicit.get("out", "model.npz")
    target = output_target(out)
    refuse_inputs([target], [("corpus", corpus)])
    run = new_run()
    check_replace(target, run["id"], force=args.force)
    ensure_writable(target)
    with OutputLock(out):
        check_replace(target, run["id"], force=args.force)
        result = train_seed(corpus, iterations=iterations, log_every=log_every, write=_out)
        save_seed_checkpoint(result, out, str(corpus), run)
    print(f"seed recipe: {iterations} iterations in {result.seconds:.1f}s "
          f"({result.chars / max(result.seconds, 1e-9):,.0f} chars/s); saved {out}", file=sys.stderr)
    return 0


def _exclude(ck, exclude_file) -> set[str]:
    if not exclude_file:
        return set()
    return set(read_corpus(exclude_file, lowercase=ck.lowercase, max_len=LONGEST_NAME).names)


def cmd_sample(args) -> int:
    ck = load(args.model)
    given = declared(args, SampleOptions)
    if getattr(args, "names", None):  # namesmith similar MODEL NAME...
        given["like"] = ",".join(args.names)
    if "key" in given and "n" not in given:
        given["n"] = 1  # a key names one thing: its name (-n K for K)
    opts = SampleOptions(**ck.with_mode_defaults(given))
    keys = getattr(args, "keys", None)
    if keys is not None and ({"n", "key", "seed", "best", "like"} & set(given)):
        raise ConfigError("--keys gives one name per key of the file: drop -n, --key, --seed, --best and --like")
    exclude = _exclude(ck, args.exclude_file)
    write = _Rows(args.format, args.raw, keyed=keys is not None)
    if opts.full:
        write(ck.sample(**option_kwargs(opts), exclude=exclude))
        write.close()
        return 0
    if opts.like is not None:
        found = ck.like(opts, exclude)
        if found.steered:
            print("drawn under the liked names' styles: " + ", ".join(f"{k} {v:.0%}" for k, v in found.steered.items()),
                  file=sys.stderr)
        write(found)
        write.close()
        return 0
    sampler = ck.sampler(exclude, opts.style, opts.style_strength, opts.factor_values())
    if keys is not None:
        for key, sample in name_keys(sampler, opts, read_keys(keys)):
            write([sample], key)
    elif opts.best is not None:
        write(sampler.best(opts))
    else:  # streamed: each batch is printed as it is found, so memory stays flat for any -n
        report = sampler.sample(opts, emit=write)
        if report.tries > report.accepted:
            print(f"accepted {report.accepted} of {report.tries} candidates ({report.acceptance:.1%})",
                  file=sys.stderr)
    write.close()
    return 0


def read_keys(path: str) -> list[str]:
    """The keys of ``--keys FILE``: one per line (line breaks and surrounding spaces dropped, blank lines
    skipped), read with the corpus files' size bound."""
    keys = [line.strip() for line in read_text(path, "keys file").splitlines()]
    keys = [k for k in keys if k]
    if not keys:
        raise ConfigError(f"{path}: no keys (one key per line)")
    return keys


def name_keys(sampler, opts: SampleOptions, keys: list[str]):
    """``(key, name)`` for each key in order: the key's name, or with ``unique`` the key's first name (its
    names in seed order) that no earlier key took."""
    seen: set[str] = set()
    for key in keys:
        one = replace(opts, key=key, n=1, unique=False)
        if not opts.unique:
            yield key, sampler.sample(one)[0]
            continue
        k = 1
        while True:
            found = next((x for x in sampler.sample(replace(one, n=k)) if x.name not in seen), None)
            if found is not None or k >= 1024:
                break
            k *= 4
        if found is None:
            raise ConstraintError(f"key {key!r}: its first {k} names were all taken by earlier keys; drop --unique "
                                  "or loosen the constraints")
        seen.add(found.name)
        yield key, found


class _Rows:
    """Names written to stdout as they come, in text (capitalised unless raw), JSON or CSV; with ``keyed``,
    each with its key (text: ``key<TAB>name``)."""

    FIELDS = ["name", "display", "logprob", "nats_per_char", "novel", "seed"]

    def __init__(self, fmt: str, raw: bool, keyed: bool = False):
        self.fmt, self.raw, self.rows, self.keyed = fmt, raw, 0, keyed
        self.fields = (["key"] if keyed else []) + self.FIELDS
        if fmt == "csv":
            _out(",".join(self.fields) + "\n")

    def __call__(self, samples, key: str | None = None) -> None:
        rows = [({"key": key} if self.keyed else {}) | s.to_dict() for s in samples]
        if self.fmt == "json":
            text = "".join(("[\n" if self.rows == 0 and i == 0 else ",\n")
                           + _indent(json.dumps(r, indent=2, ensure_ascii=False)) for i, r in enumerate(rows))
        elif self.fmt == "csv":
            buf = io.StringIO()
            csv.DictWriter(buf, fieldnames=self.fields, lineterminator="\n").writerows(rows)
            text = buf.getvalue()
        else:
            lead = f"{key}\t" if self.keyed else ""
            text = "".join(lead + (s.name if self.raw else s.display) + "\n" for s in samples)
        self.rows += len(samples)
        _out(text)

    def close(self) -> None:
        if self.fmt == "json":
            _out("[]\n" if self.rows == 0 else "\n]\n")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def cmd_mix(args) -> int:
    ck = mix(args.models, args.out, order=args.order, force=args.force)
    print(f"wrote {args.out}: {ck.describe()}, validation NLL {ck.val_nll:.4f} nats/char", file=sys.stderr)
    return 0


def cmd_eval(args) -> int:
    if args.samples and not 1 <= args.samples <= 100_000:  # before any work (100,000: shares to ~0.3%)
        raise ConfigError(f"--samples must be in [1, 100000], got {args.samples}")
    ck = load(args.model)
    seed = check_seed(args.seed)
    corpus = load_corpus(args.corpus, lowercase=ck.lowercase, max_len=LONGEST_NAME)
    if args.confusion:
        if not (ck.styles and corpus.labels):
            raise ConfigError("--confusion needs a model with styles and a labelled corpus (name<TAB>style)")
        refuse_inputs([output_target(args.confusion, "plot")], [("model", args.model), ("corpus", args.corpus)])
        check_png(args.confusion)
    report = ck.evaluate(corpus.names, labels=corpus.labels, strict=args.strict, fold_accents=args.fold_accents,
                         uniform_prior=args.uniform_prior)
    if args.confusion:
        print(f"wrote {plot_confusion(report, args.confusion)}", file=sys.stderr)
    if report.skipped:
        chars = ", ".join(map(repr, report.unknown_chars[:10]))
        print(f"namesmith: skipped {report.skipped} of {report.skipped + report.names} names with characters the "
              f"model never saw ({chars}); --fold-accents may read them, --strict refuses them", file=sys.stderr)
    if args.samples:
        report.generation = generation_report(ck.sampler(), corpus.names, args.samples, seed=seed)
    _out(json.dumps(report.to_dict(), indent=2) + "\n" if args.json else "\n".join(_eval_lines(report, corpus.name))
         + "\n")
    return 0


def _eval_lines(r, corpus: str) -> list[str]:
    lines = [f"corpus      {corpus}: {_n(r.names, 'name')}, {_n(r.chars, 'character')} (+{_n(r.names, 'end token')})",
             f"NLL         {r.nll:.4f}{_se(r.nll_se)} nats/char (end token included"
             f"{'; ± one standard error over the names' if r.nll_se is not None else ''})",
             f"bits/char   {r.bits_per_char:.4f}", f"perplexity  {r.perplexity:.3f}"]
    if r.accuracy is not None:
        lines.append(f"style       accuracy {r.accuracy:.1%}, macro accuracy {r.macro_accuracy:.1%} "
                     "(NLL above: each name under its own style)")
        for style, v in r.per_style.items():
            lines.append(f"  {style:<20} {v.names:>7,} names  NLL {v.nll:.4f}{_se(v.nll_se)}  "
                         f"accuracy {v.accuracy:.1%}")
    for g in r.generation or []:
        lines.append(f"T={g['temperature']:<4} novel {g['novel']:.1%}  unique {g['unique']:.1%}  "
                     f"held-out real {g['heldout_real']:.1%}  length TV distance {g['length_tv']:.3f}  "
                     f"mean length {g['mean_len']:.2f} (corpus {g['corpus_mean_len']:.2f})")
    return lines


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _se(se: float | None) -> str:
    return "" if se is None else f" ± {se:.4f}"


def cmd_score(args) -> int:
    ck = load(args.model)
    names = list(args.names)
    if args.file:
        names += list(read_corpus(args.file, lowercase=False, max_len=LONGEST_NAME).names)
    if not names:
        raise ConfigError("give names to score, or --file FILE")
    scores = ck.score(names, style=args.style, fold_accents=args.fold_accents)
    if all(s.logprob is None for s in scores):
        s = scores[0]
        raise ConfigError(f"{s.name!r} cannot be scored: the model never saw {', '.join(map(repr, s.unknown_chars))} "
                          f"(its alphabet: {ck.vocab.alphabet()}; --fold-accents reads accented letters as plain)")
    if args.json:
        _out(json.dumps([s.to_dict() for s in scores], indent=2) + "\n")
        return 0
    lines = []
    for s in scores:
        if s.logprob is None:
            lines.append(f"{s.display:<20} cannot be scored: the model never saw "
                         f"{', '.join(map(repr, s.unknown_chars))}")
            continue
        pct = "" if s.percentile is None else f"  more plausible than {s.percentile:.1f}% of training names"
        bad = f"  [{s.offensive}]" if s.offensive else ""
        lines.append(f"{s.display:<20} logprob {s.logprob:8.3f}  {s.nats_per_char:.3f} nats/char{pct}{bad}")
        if args.explain:
            worst = max(s.surprisal, key=lambda cs: cs[1])
            lines.append("    " + "  ".join(f"{c if c != '<end>' else '⏎'}:{v:.2f}" for c, v in s.surprisal)
                         + f"   (least expected: {worst[0]!r}, {worst[1]:.2f} nats)")
    if not ck.ranks and 0 < (ck.meta.corpus.names or 0) < RANK_MIN:
        lines.append(f"(no percentiles: the model was trained on {ck.meta.corpus.names:,} names, too few to rank a "
                     f"name against; the log-probabilities compare names with each other)")
    _out("\n".join(lines) + "\n")
    return 0


def cmd_classify(args) -> int:
    ck = load(args.model)
    names = list(args.names)
    if args.file:
        names += list(read_corpus(args.file, lowercase=False, max_len=LONGEST_NAME).names)
    if not names:
        raise ConfigError("give names to classify, or --file FILE")
    top = args.top if args.top is not None or args.json else 3
    results = ck.classify(names, top=top, uniform_prior=args.uniform_prior, fold_accents=args.fold_accents)
    if args.json:
        _out(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False) + "\n")
        return 0
    lines = []
    for r in results:
        if r.style is None:
            lines.append(f"{r.display:<20} cannot be classified: the model never saw "
                         f"{', '.join(map(repr, r.unknown_chars))}")
        else:
            factors = "".join(f"  | {column}: " + "  ".join(f"{v} {p:.0%}" for v, p in list(probs.items())[:2])
                              for column, probs in r.factors.items())
            lines.append(f"{r.display:<20} " + "  ".join(f"{s} {p:.1%}" for s, p in r.styles.items()) + factors
                         + (f"  [{r.offensive}]" if r.offensive else ""))
    _out("\n".join(lines) + "\n")
    return 0


def cmd_models(args) -> int:
    rows = pretrained_models()
    if args.json:
        _out(json.dumps(rows, indent=2) + "\n")
        return 0
    lines = []
    for r in rows:
        if not r["installed"]:
            lines.append(f"{r['name']:<12} (not installed)  {r['description']}")
            continue
        styles = f", {len(r['styles'])} styles" if r["styles"] else ""
        nll = f", validation NLL {r['nll']:.3f}" if r["nll"] is not None else ""
        lines.append(f"{r['name']:<12} {r['bytes'] / 1e6:4.1f} MB  {r['description']}{styles}{nll}")
        if r["styles"]:
            lines.append(f"{'':<12} styles: {', '.join(r['styles'])}")
    lines.append("use one by name: namesmith sample NAME [--style S]; fine-tune: namesmith train LIST --init-from NAME")
    _out("\n".join(lines) + "\n")
    return 0


def cmd_corpora(args) -> int:
    rows = builtin_corpora()
    if args.json:
        _out(json.dumps(rows, indent=2) + "\n")
        return 0
    lines = [f"{'name':<16} {'names':>7} {'chars':>8} {'styles':>6}  description"]
    for r in rows:
        star = " (default)" if r["default"] else ""
        lines.append(f"{r['name']:<16} {r['names']:>7,} {r['chars']:>8,} {len(r['styles']) or '-':>6}  "
                     f"{r['description']}{star}")
        if r["styles"]:
            shown = ", ".join(f"{s} {n:,}" for s, n in r["styles"].items())
            lines.append(f"{'':<16} styles: {shown}")
    _out("\n".join(lines) + "\n")
    return 0


def cmd_plot(args) -> int:
    _out(f"wrote {plot_run(args.run, args.out)}\n")
    return 0


def cmd_export(args) -> int:
    ck = load(args.model)
    sources = [args.model, pretrained_path(args.model)]
    names = None
    if args.include_names is not None:
        names = list(load_corpus(args.include_names).names)
    kw = {"include_names": names is not None, "names": names}
    if args.web is not None:
        title = export.check_title(args.title) or (args.model if pretrained_path(args.model) and not os.path.exists(
            args.model) else Path(args.model).stem)
        where = export.write_web(ck, args.web, sources, title=title, **kw)
        _out(f"wrote {where}/ (open {where / 'index.html'} in a browser; it works offline)\n")
    elif args.json is not None:
        _out(f"wrote {export.write_json(ck, args.json, sources, **kw)}\n")
    else:
        _out(f"wrote {write_onnx(ck, args.onnx, sources)}\n")
    return 0


def cmd_serve(args) -> int:
    from .web.server import serve_main

    return serve_main(args.models, host=args.host, port=args.port, access_log=args.access_log, workers=args.workers)


def _blas_threads(args):
    """One BLAS thread for every command unless --threads says otherwise: on a shared machine more threads can
    only lose outside the training steps, where ``namesmith train`` measures (runtime.ThreadTuner) whether the
    library's default of more threads is faster right now."""
    n = args.threads if args.threads is not None else 1
    if not 1 <= n <= 1024:
        raise ConfigError(f"--threads must be in [1, 1024], got {n}")
    from threadpoolctl import threadpool_limits

    blas_default()  # remembered before the limit: the tuner's other choice
    return threadpool_limits(limits=n, user_api="blas")


def _as_flags(message: str) -> str:
    """An API error as the command line says it: Python parameter names become flags (``max_tries`` anywhere, a
    one-word name such as ``lr`` when it starts the message)."""
    names = {f.name for f in fields(SampleOptions)} | set(FIELDS) | {"uniform_prior", "exclude_file", "force"}
    pattern = r"\b(" + "|".join(sorted((n for n in names if "_" in n), key=len, reverse=True)) + r")\b"
    message = re.sub(pattern, lambda m: "--" + m.group(1).replace("_", "-"), message)
    first = message.split(" ", 1)[0]
    return f"--{first} {message.split(' ', 1)[1]}" if first in names and " " in message else message


def _short(message: str, most: int = 600) -> str:
    """One readable line: a message holding, say, a 5,000-character path keeps its start and its end."""
    message = " ".join(message.split())
    return message if len(message) <= most else message[: most // 2] + " … " + message[-most // 2:]


def _tolerant_streams() -> None:
    """Text that is not valid UTF-8 (a file name's bytes, read as surrogates) is printed escaped, never a crash."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a stream that cannot be reconfigured: left as it is
                pass


def main(argv: list[str] | None = None) -> int:
    try:
        _tolerant_streams()
        args = build_parser().parse_args(argv)
        keep_freed_memory()  # no page faults for the temporaries every step reallocates
        with np.errstate(all="ignore"), warnings.catch_warnings(), _blas_threads(args):
            warnings.simplefilter("ignore", RuntimeWarning)
            return int(args.func(args) or 0)
    except NamesmithError as e:
        print(f"namesmith: error: {_short(_as_flags(str(e)))}", file=sys.stderr)
        return e.exit_code
    except SystemExit as e:  # --help and --version print and exit 0
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    except KeyboardInterrupt:
        print("namesmith: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `namesmith sample ... | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except MemoryError:
        print("namesmith: error: out of memory; try a smaller --batch-size or model", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
