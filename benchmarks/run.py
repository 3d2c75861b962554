"""Run every namesmith benchmark side by side and write BENCHMARKS.md.

    pip install -e . torch==2.13.0        # torch: the PyTorch reference only, never a namesmith dependency
    python benchmarks/run.py               # everything (about 65 minutes on 2 cores)
    python benchmarks/run.py --only step,sampling   # some sections; other results are kept from results.json
    python benchmarks/run.py --render      # rewrite BENCHMARKS.md from benchmarks/results.json

Every measurement runs in its own subprocess, one after the other, so each has
the machine to itself and its peak memory (RSS) is its own. Results accumulate
in benchmarks/results.json (with the date and the command of each), and
BENCHMARKS.md is rendered from it. Data: ../shared/data/names-ssa2018 (the
train/test split of karpathy/makemore), read in place.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
OUT = HERE / "out"
SHARED = Path(os.environ.get("NAMESMITH_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data" / "names-ssa2018"
PY = sys.executable

MAKEMORE_RNN = ["--model", "rnn", "--embed", "64", "--hidden", "64", "--learn-h0", "--optimizer", "adamw",
                "--lr", "5e-4", "--beta1", "0.9", "--beta2", "0.99", "--weight-decay", "0.01",
                "--batch-size", "32", "--schedule", "constant", "--clip", "none", "--dropout", "0",
                "--dtype", "float32"]
# the best configuration of each family for a 10-minute budget (neural only; the mixture is the best preset)
TRANSFORMER_10MIN = ["--model", "transformer", "--embed", "64", "--heads", "4", "--layers", "4", "--hidden", "256",
                     "--block", "16", "--dropout", "0.1", "--batch-size", "64", "--lr", "2e-3", "--no-bucket",
                     "--eval-every", "500", "--patience", "0"]
MLP_10MIN = ["--model", "mlp", "--embed", "48", "--hidden", "512", "--layers", "2", "--block", "10", "--dropout", "0.25",
             "--batch-size", "128", "--lr", "2e-3", "--no-bucket", "--eval-every", "250", "--patience", "0"]
LSTM_10MIN = ["--model", "lstm", "--hidden", "512", "--embed", "64", "--dropout", "0.35", "--batch-size", "128",
              "--lr", "2e-3", "--eval-every", "200", "--patience", "0"]
FAMILIES = {
    "rnn": ["--model", "rnn", "--hidden", "512", "--embed", "64", "--dropout", "0.3", "--batch-size", "64",
            "--lr", "2e-3", "--eval-every", "250", "--mix-ngram", "0", "--patience", "0"],
    "gru": ["--model", "gru", "--hidden", "512", "--embed", "64", "--dropout", "0.35", "--batch-size", "128",
            "--lr", "2e-3", "--eval-every", "200", "--mix-ngram", "0", "--patience", "0"],
}
RNN_5MIN = ["--model", "rnn", "--hidden", "512", "--embed", "64", "--dropout", "0.25", "--batch-size", "64",
            "--lr", "2e-3", "--eval-every", "250", "--mix-ngram", "0", "--patience", "0"]
SAMPLER_MODEL = ["--model", "rnn", "--hidden", "128", "--embed", "0", "--dropout", "0", "--steps", "3000",
                 "--batch-size", "64", "--mix-ngram", "0", "--patience", "0"]


def relative(obj):
    """``obj`` with this machine's paths replaced by paths relative to the repository (recorded commands)."""
    if isinstance(obj, str):
        return obj.replace(str(SHARED), "../shared").replace(str(ROOT) + "/", "").replace(sys.executable, "python")
    if isinstance(obj, list):
        return [relative(x) for x in obj]
    if isinstance(obj, dict):
        return {k: relative(v) for k, v in obj.items()}
    return obj


def run_json(args: list[str], label: str) -> dict:
    print(f"[{dt.datetime.now():%H:%M:%S}] {label}: {' '.join(args)}", file=sys.stderr, flush=True)
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed:\n{proc.stderr[-3000:]}")
    try:  # a pretty-printed document (namesmith --json) or JSON lines (the harness scripts: take the last)
        out = json.loads(proc.stdout)
        out = {"_list": out} if isinstance(out, list) else out
    except json.JSONDecodeError:
        out = json.loads([x for x in proc.stdout.splitlines() if x.startswith("{")][-1])
    out["_command"] = " ".join(Path(a).name if a == PY else a for a in args)
    return out


def bench(script: str, *args: str, label: str) -> dict:
    return run_json([PY, str(HERE / script), *args], label)


# ----- sections ----------------------------------------------------------------------------
def machine() -> dict:
    import numpy as np
    from threadpoolctl import threadpool_info

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = round(kb / 1024**2, 1)
    except (OSError, StopIteration):
        pass
    # torch is asked in a child process: importing it here would load its OpenMP runtime into this
    # process and raise the memory high-water mark that Linux hands down to every measured child.
    probe = subprocess.run([PY, "-c", "import torch; print(f'{torch.__version__} ({torch.get_num_threads()} threads)')"],
                           capture_output=True, text=True)
    torch_v = probe.stdout.strip() if probe.returncode == 0 else "not installed"
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)" for i in threadpool_info()]
    import namesmith

    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "os": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "blas": ", ".join(blas),
            "torch": torch_v, "namesmith": namesmith.__version__}


def sec_peak(r):
    r["peak"] = bench("throughput.py", "peak", label="matmul peak")


def _median_run(runs: list[dict], key: str) -> dict:
    """The run with the median value of ``key``, annotated with all the values seen."""
    runs = sorted(runs, key=lambda x: x[key])
    out = dict(runs[len(runs) // 2])
    out[f"{key}_all"] = [x[key] for x in runs]
    return out


def sec_seed(r, reps: int = 3):
    """The seed recipe and the batched engine, interleaved and repeated (median of ``reps``).

    This machine's speed drifts from minute to minute, so every configuration is
    measured once per round, in rounds, and the ratio uses the medians.
    """
    configs = [(32, "float32"), (256, "float32"), (512, "float32"), (1024, "float32"), (512, "float64")]
    seeds, batched = [], {c: [] for c in configs}
    for rep in range(reps):
        seeds.append(bench("throughput.py", "seed", "--iterations", "20000", label=f"seed recipe ({rep + 1}/{reps})"))
        for batch, dtype in configs:
            batched[(batch, dtype)].append(bench(
                "throughput.py", "step", "--model", "rnn", "--hidden", "50", "--embed", "0", "--batch", str(batch),
                "--dtype", dtype, "--optimizer", "sgd", "--lr", "0.01", "--clip", "value", "--steps", "200",
                label=f"batched rnn-50 b{batch} {dtype} ({rep + 1}/{reps})"))
    r["seed_vs_batched"] = {"seed": _median_run(seeds, "chars_per_s"),
                            "batched": [_median_run(v, "chars_per_s") for v in batched.values()]}


MAKEMORE_SHAPES = {  # namesmith's options for makemore's models at their default sizes (AdamW lr 5e-4, batch 32)
    "rnn": ["--model", "rnn", "--hidden", "64", "--embed", "64", "--learn-h0", "--steps", "400"],
    "gru": ["--model", "gru", "--hidden", "64", "--embed", "64", "--learn-h0", "--steps", "400"],
    "transformer": ["--model", "transformer", "--embed", "64", "--hidden", "256", "--layers", "4", "--heads", "4",
                    "--block", "16", "--steps", "200"],
}


def sec_step(r, reps: int = 3, cells=("rnn", "gru", "transformer")):
    """makemore-shaped steps, namesmith and the PyTorch reference interleaved, median of ``reps`` rounds."""
    out = r.setdefault("makemore_step", {})
    for cell in cells:
        common = [*MAKEMORE_SHAPES[cell], "--batch", "32", "--optimizer", "adamw", "--weight-decay", "0.01",
                  "--lr", "5e-4"]
        torch_steps = "200" if cell == "transformer" else "300"
        runs = {"namesmith": [], "namesmith_no_bucket": [], "torch": []}
        for rep in range(reps):
            tag = f"({rep + 1}/{reps})"
            runs["namesmith"].append(bench("throughput.py", "step", *common, label=f"namesmith {cell} step {tag}"))
            runs["namesmith_no_bucket"].append(bench("throughput.py", "step", *common, "--no-bucket",
                                                     label=f"namesmith {cell} step, no buckets {tag}"))
            runs["torch"].append(bench("torch_ref.py", "--cell", cell, "--mode", "steps", "--steps", torch_steps,
                                       "--train", str(DATA / "train.txt"), label=f"torch {cell} step {tag}"))
        out[cell] = {k: _median_run(v, "ms_per_step") for k, v in runs.items()}


def sec_transformer_step(r, reps: int = 3):
    """makemore's transformer at its default size (4 layers, 4 heads, embedding 64, block 16)."""
    sec_step(r, reps, cells=("transformer",))


def sec_ttt(r):
    ns = bench("time_to_target.py", "--name", "ttt-rnn", "--seconds", "300", "--", *MAKEMORE_RNN,
               label="namesmith makemore-rnn 5 min")
    ref = bench("torch_ref.py", "--cell", "rnn", "--mode", "train", "--seconds", "300",
                "--train", str(DATA / "train.txt"), "--test", str(DATA / "test.txt"), label="torch rnn 5 min")
    r["time_to_target"] = {"namesmith": ns, "torch": ref}


def sec_seed200k(r):
    """The notebook's algorithm trained on train.txt for its 200,000 iterations, measured on test.txt."""
    import time

    out = OUT / "seed200k.npz"
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "namesmith", "train", str(DATA / "train.txt"), "--recipe", "seed", "-o", str(out)],
                   check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    ev = run_json([PY, "-m", "namesmith", "eval", str(out), str(DATA / "test.txt"), "--json"], "seed 200k eval")
    r["seed_200k"] = {"wall_seconds": seconds, "test_nll": ev["nll"], "test_bits_per_char": ev["bits_per_char"],
                      "command": f"namesmith train {DATA / 'train.txt'} --recipe seed -o seed200k.npz; "
                                 f"namesmith eval seed200k.npz {DATA / 'test.txt'}"}


def sec_rnn5(r):
    r["rnn_5min"] = bench("quality.py", "--name", "rnn-5min", "--seconds", "300", "--", *RNN_5MIN,
                          label="best vanilla RNN 5 min")


def sec_flops(r):
    r["flops"] = [bench("throughput.py", "flops", "--hidden", "256", "--batch", str(b), "--steps", "40",
                        "--warmup", "5", label=f"flops rnn-256 b{b}") for b in (1024, 4096)]


def sec_families(r):
    """rnn and gru for 10 minutes each, at the same time (one core each), alone and with their 6-gram; the
    other families are measured by ``sec_ensembles``."""
    runs = parallel({f"family-{name}": _mixed(args) for name, args in FAMILIES.items()})
    r.setdefault("families", {}).update({k.removeprefix("family-"): v for k, v in runs.items()})


def _mixed(args: list[str]) -> list[str]:
    """The arguments without ``--mix-ngram 0``: the run also gives its network mixed with the default 6-gram."""
    out = list(args)
    i = out.index("--mix-ngram") if "--mix-ngram" in out else -1
    return out if i < 0 else out[:i] + out[i + 2:]


def parallel(jobs: dict[str, list[str]]) -> dict[str, dict]:
    """Run quality.py jobs at the same time (one per core), each ``name: args``; their JSON results by name."""
    procs = {}
    for name, args in jobs.items():
        cmd = [PY, str(HERE / "quality.py"), "--name", name, "--seconds", "600", "--", *args]
        print(f"[{dt.datetime.now():%H:%M:%S}] {name} (in parallel): {' '.join(cmd)}", file=sys.stderr, flush=True)
        procs[name] = (cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT))
    out = {}
    for name, (cmd, p) in procs.items():
        stdout, stderr = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{name} failed:\n{stderr[-3000:]}")
        out[name] = json.loads(stdout.splitlines()[-1])
        out[name]["_command"] = " ".join(Path(a).name if a == PY else a for a in cmd)
    return out


def sec_ensembles(r):
    """Two 10-minute runs at once on the 2 cores (each a network + its 6-gram), then their networks mixed with
    one 6-gram (benchmarks/ensemble.py): the transformer with the MLP, and with the LSTM of --preset best; the
    LSTM with the GRU of sec_families."""
    runs = parallel({"family-transformer": TRANSFORMER_10MIN, "family-mlp": MLP_10MIN})
    runs.update(parallel({"family-lstm": LSTM_10MIN, "family-transformer-ema": [*TRANSFORMER_10MIN, "--ema", "0.999"]}))
    runs.update(parallel({"family-lstm-ema": [*LSTM_10MIN, "--ema", "0.999"],
                          "family-transformer-ema2": [*TRANSFORMER_10MIN, "--ema", "0.999"]}))
    r.setdefault("families", {}).update({k.removeprefix("family-"): v for k, v in runs.items()})
    pairs = [("family-transformer", "family-mlp"), ("family-lstm", "family-transformer"),
             ("family-lstm", "family-transformer-ema"), ("family-lstm-ema", "family-transformer-ema2"),
             ("family-lstm", "family-gru")]  # family-gru: from sec_families
    r["ensembles"] = [bench("ensemble.py", str(OUT / f"{a}.npz"), str(OUT / f"{b}.npz"), "--order", "6",
                            label=f"ensemble {a} + {b}") for a, b in pairs]


ONE_BEST = ["--ensemble", "1", "--patience", "10"]  # one network of --preset best, as the preset was until 0.7.0
OLD_DEFAULT = ["--embed", "32", "--patience", "10"]  # --preset default as it was until 0.8.0


def sec_ema(r):
    """The default preset and one network of the best preset with and without --ema 0.999, one after the other
    on a quiet machine."""
    out = {}
    for preset in ("default", "best"):
        one = ONE_BEST if preset == "best" else OLD_DEFAULT
        out[preset] = bench("quality.py", "--name", f"preset-{preset}", "--preset", preset, "--", "--ema", "0", *one,
                            label=f"preset {preset}")
        out[f"{preset}+ema"] = bench("quality.py", "--name", f"preset-{preset}-ema", "--preset", preset, "--",
                                     "--ema", "0.999", *one, label=f"preset {preset} + ema")
    r["ema"] = out


def sec_presets(r):
    r["presets"] = {p: bench("quality.py", "--name", f"preset-{p}", "--preset", p, label=f"preset {p}")
                    for p in ("fast", "default", "best")}
    r["presets"]["default --ensemble 2"] = bench("quality.py", "--name", "preset-default-ens2", "--preset", "default",
                                                 "--", "--ensemble", "2", label="preset default --ensemble 2")


def sec_ngram(r):
    r["ngram"] = [bench("quality.py", "--name", f"ngram-{o}", "--", "--model", "ngram", "--order", str(o),
                        label=f"ngram order {o}") for o in (2, 3, 4, 5, 6, 7)]


def _sampler_model() -> Path:
    path = OUT / "sampler-rnn128.npz"
    if not path.exists():
        subprocess.run([PY, "-m", "namesmith", "train", str(DATA / "train.txt"), *SAMPLER_MODEL, "--samples", "0",
                        "--no-progress", "-o", str(path)], check=True, capture_output=True, cwd=ROOT)
    return path


def sec_sampling(r):
    path = _sampler_model()
    r["sampling"] = bench("throughput.py", "sample", str(path), "-n", "10000", label="sampling rnn-128")


def sec_web(r):
    path = _sampler_model()
    out = {"rnn128": bench("web_load.py", str(path), "--clients", "8", "--seconds", "20", label="web load rnn-128")}
    default = OUT / "preset-default.npz"
    if default.exists():
        out["default"] = bench("web_load.py", str(default), "--clients", "8", "--seconds", "20",
                               label="web load default preset")
    r["web"] = out


def _split_corpus(name: str, text: str) -> tuple[Path, Path]:
    """A fixed 90/10 train/test split of a corpus (seed 0), written to benchmarks/out/."""
    import numpy as np

    names = [x.strip().lower() for x in text.splitlines() if x.strip()]
    order = np.random.default_rng(0).permutation(len(names))
    n_test = max(1, len(names) // 10)
    test = [names[i] for i in order[:n_test]]
    train = [names[i] for i in order[n_test:]]
    paths = OUT / f"{name}-train.txt", OUT / f"{name}-test.txt"
    for path, part in zip(paths, (train, test)):
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
    return paths


def sec_corpora(r):
    """Which model for which corpus size: n-gram, fast and default presets on three smaller corpora."""
    from namesmith.corpus import builtin_text

    corpora = {
        "dinosaurs": (SHARED / "data" / "dinosaurs" / "dinos.txt").read_text(encoding="utf-8"),
        "census-first": builtin_text("census-first"),
        "census-surnames": builtin_text("census-surnames"),
    }
    out = {}
    for cname, text in corpora.items():
        train, test = _split_corpus(cname, text)
        rows = {}
        for label, args in (("ngram-5", ["--", "--model", "ngram", "--order", "5"]),
                            ("fast", ["--preset", "fast"]), ("default", ["--preset", "default"])):
            rows[label] = bench("quality.py", "--name", f"{cname}-{label}", "--train", str(train),
                                "--test", str(test), "--val-fraction", "0.1", *args, label=f"{cname} {label}")
        out[cname] = {"names": sum(1 for x in text.splitlines() if x.strip()), "rows": rows}
    r["corpora"] = out


def sec_scale(r):
    """Growth with the corpus (100k/300k/1M words) and a 2,686-symbol alphabet (benchmarks/scale.py)."""
    r["scale"] = bench("scale.py", label="scale")
    r["scale"]["date"] = dt.date.today().isoformat()


def sec_styles(r):
    """Styles on the world corpus (benchmarks/styles.py) and the time to the first styled names."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # the two parts at the same time, one per core
        parts = list(pool.map(lambda part: bench("styles.py", "--part", part, label=f"styles ({part})"),
                              ["conditional", "finetune"]))
    r["styles"] = {**parts[0], "finetune": parts[1]["finetune"], "date": dt.date.today().isoformat(),
                   "note": "the two parts (the conditional model, the fine-tuning) ran at the same time, one per core"}
    r["styles"]["first_names"] = bench("first_names.py", label="fresh install to first styled names")


def sec_styles_finetune(r):
    """Only the fine-tuning part of the styles benchmark (the conditional part is unchanged by fine-tuning work),
    merged into the last full styles run."""
    r["styles"]["finetune"] = bench("styles.py", "--part", "finetune", label="styles (finetune)")["finetune"]
    r["styles"]["finetune"]["date"] = dt.date.today().isoformat()
    r["styles"]["finetune"]["note"] = "rerun without the conditional part: `python benchmarks/run.py --only styles_finetune`"


def sec_pretrained(r):
    """The shipped models as built by scripts/build_pretrained.py: size and held-out NLL from their checkpoints."""
    rows = run_json([PY, "-m", "namesmith", "models", "--json"], "pretrained models")
    r["pretrained"] = {"models": [{k: x[k] for k in ("name", "description", "bytes", "model", "nll")} |
                                  {"styles": len(x["styles"])} for x in rows["_list"]],
                       "command": "python scripts/build_pretrained.py"}


def sec_serving(r):
    """Old (stdlib) and new (FastAPI/uvicorn, 1 and 2 workers) servers round by round (benchmarks/serving.py):
    ../old holds the src of 755fb8c and OUT/old-rnn128.npz, OUT/new-rnn128.npz the models each version trained
    (the commands in serving.py's docstring)."""
    old = ROOT.parent / "old" / "src"
    r["serving"] = bench("serving.py", str(old), str(OUT / "old-rnn128.npz"), str(OUT / "new-rnn128.npz"),
                         "--rounds", "5", label="serving")
    r["serving"]["date"] = dt.date.today().isoformat()


def sec_slowloris(r):
    r["slowloris"] = bench("slowloris.py", str(OUT / "new-rnn128.npz"), "--attackers", "1010", "--workers", "1",
                           label="slow-loris on kept-alive connections")
    r["slowloris"]["date"] = dt.date.today().isoformat()


def sec_style_guidance(r):
    """Style fidelity against --style-strength on the shipped world model (benchmarks/style_guidance.py)."""
    r["style_guidance"] = bench("style_guidance.py", "world", "--strengths", "0,0.5,1,1.5,2", "--per-style", "200",
                                label="style guidance")
    r["style_guidance"]["date"] = dt.date.today().isoformat()


def sec_export(r):
    """The exported page of each shipped model in headless Chromium beside the Python sampler
    (benchmarks/export_web.py)."""
    r["export"] = bench("export_web.py", "given-names", "world", "--n", "2000", "--rounds", "5",
                        label="exported pages")
    r["export"]["date"] = dt.date.today().isoformat()


def sec_finetune_time(r):
    """Wall time and test NLL of `namesmith train LIST --init-from BASE`, the finetune preset of 0.8 against
    today's, interleaved (benchmarks/finetune_time.py)."""
    r["finetune_time"] = bench("finetune_time.py", "--sizes", "60,200", "--reps", "3", label="time to a fine-tuned model")
    r["finetune_time"]["date"] = dt.date.today().isoformat()
    r["scratch_time"] = bench("finetune_time.py", "--scratch", "--sizes", "200,1000", "--reps", "1", "--seeds",
                              "1337,1338", label="time to a model trained from scratch")
    r["scratch_time"]["date"] = dt.date.today().isoformat()


def sec_similar(r):
    """Names like liked ones on the shipped world model, judged by an independent classifier
    (benchmarks/similar.py)."""
    r["similar"] = bench("similar.py", "world", "--names", "60", "--triples", "20", "--n", "10",
                         label="names like this one")
    r["similar"]["date"] = dt.date.today().isoformat()


def sec_offensive(r):
    """The offensive-name filter: what it rejects of each shipped model's samples and of real names it never
    saw (benchmarks/offensive.py)."""
    r["offensive"] = bench("offensive.py", "--n", "100000", label="offensive names")
    r["offensive"]["date"] = dt.date.today().isoformat()


def sec_contention(r):
    r["contention"] = bench("contention.py", "--reps", "5", label="BLAS threads under contention")


PAIRED = [("preset-fast", "preset-default"), ("preset-default", "preset-default-ens2"), ("preset-default", "preset-best"),
          ("preset-default-ens2", "preset-best")]  # models of sec_presets


def sec_paired(r):
    """How large a difference between two models on the 1,000 test names is real: a paired bootstrap over the
    names (benchmarks/paired.py), for the presets' models."""
    r["paired"] = [bench("paired.py", str(OUT / f"{a}.npz"), str(OUT / f"{b}.npz"), label=f"paired {a} / {b}")
                   for a, b in PAIRED]


def sec_parallel(r):
    r["parallel"] = bench("parallel.py", "--reps", "3", label="two networks side by side or one after the other")


SECTIONS = {
    "peak": sec_peak, "seed": sec_seed, "step": sec_step, "flops": sec_flops, "ttt": sec_ttt,
    "transformer_step": sec_transformer_step, "ensembles": sec_ensembles, "ema": sec_ema, "rnn5": sec_rnn5, "ngram": sec_ngram, "presets": sec_presets, "families": sec_families,
    "sampling": sec_sampling, "web": sec_web, "corpora": sec_corpora, "seed200k": sec_seed200k,
    "contention": sec_contention, "parallel": sec_parallel, "scale": sec_scale, "styles": sec_styles, "pretrained": sec_pretrained,
    "serving": sec_serving, "slowloris": sec_slowloris, "styles_finetune": sec_styles_finetune, "paired": sec_paired,  # paired: after presets
    "style_guidance": sec_style_guidance, "export": sec_export, "offensive": sec_offensive,
    "similar": sec_similar, "finetune_time": sec_finetune_time,
}
PARTIAL = {"styles_finetune"}  # reruns of part of a section: only with --only


# ----- rendering -----------------------------------------------------------------------------
def f(x, nd=3):
    return "—" if x is None else f"{x:,.{nd}f}"


def render(r: dict) -> str:
    m = r.get("machine", {})
    L = ["# namesmith benchmarks", "",
         f"Measured by `python benchmarks/run.py` on {r.get('date', '?')}; every figure below comes from that "
         f"run{' except the sections named at the end of this paragraph' if r.get('remeasured') else ''} (raw numbers and the exact command of each measurement: `benchmarks/results.json`). "
         "Quality is the mean negative log-likelihood per character on `names-ssa2018/test.txt` "
         "(1,000 names, end-of-name token included), in nats (bits = nats / ln 2). Speed figures in one "
         "table were measured one after the other in the same run, so their ratios compare like with like."
         + ("" if not r.get("remeasured") else " Sections re-measured later, with later code: "
            + "; ".join(f"{k} ({v})" for k, v in r["remeasured"].items())
            + ". The other sections predate those changes."),
         "", "## Machine", "",
         f"- CPU: {m.get('cpu')} — {m.get('cores')} cores, {m.get('memory_gib')} GiB RAM; {m.get('os')}",
         f"- Python {m.get('python')}, NumPy {m.get('numpy')}, BLAS: {m.get('blas')}",
         f"- PyTorch (reference implementations only): {m.get('torch')}; namesmith {m.get('namesmith')}"]
    if "peak" in r:
        p = r["peak"]
        L.append(f"- Matrix-multiply peak measured in this run (2048×2048, NumPy): "
                 f"{f(p['float32_gflops'], 1)} GFLOP/s float32, {f(p['float64_gflops'], 1)} GFLOP/s float64")
    L.append("")

    if "seed_vs_batched" in r:
        s = r["seed_vs_batched"]
        seed = s["seed"]["chars_per_s"]
        L += ["## Training throughput: the notebook's algorithm vs the batched engine", "",
              "Same model (vanilla RNN, one-hot input, hidden 50, SGD lr 0.01, elementwise clipping at 5) on "
              "names-ssa2018/train.txt; characters per second include the end token. Each row is the median of "
              f"{len(s['seed'].get('chars_per_s_all', [0]))} interleaved runs (the seed recipe measured "
              + ", ".join(f"{x:,.0f}" for x in s["seed"].get("chars_per_s_all", [seed])) + " chars/s).", "",
              "| engine | batch | dtype | chars/s | × seed recipe | ms/step | peak RSS |", "|---|---|---|---|---|---|---|",
              f"| seed recipe (`--recipe seed`, one name per step) | 1 | float64 | {f(seed, 0)} | 1.0 | "
              f"{f(s['seed']['seconds'] / s['seed']['iterations'] * 1e3, 3)} | {f(s['seed']['peak_rss_mb'], 0)} MB |"]
        for b in s["batched"]:
            L.append(f"| batched engine | {b['batch']} | {b['dtype']} | {f(b['chars_per_s'], 0)} | "
                     f"**{f(b['chars_per_s'] / seed, 1)}** | {f(b['ms_per_step'], 2)} | {f(b['peak_rss_mb'], 0)} MB |")
        L += ["", f"Commands: `{s['seed']['_command']}`; `{s['batched'][1]['_command']}`", ""]

    if "makemore_step" in r:
        L += ["## One training step of makemore's models: namesmith vs PyTorch", "",
              "makemore's `rnn` and `gru` (embedding 64, hidden 64, learned initial state, AdamW lr 5e-4, "
              "betas (0.9, 0.99), weight decay 0.01, batch 32, float32) and its `transformer` (4 layers, 4 heads, "
              "embedding 64, MLP 256, 16 positions; about 200k parameters). The PyTorch reference "
              "(`benchmarks/torch_ref.py`) follows makemore's code (the recurrent models apply a cell step by step), batches padded "
              "to makemore's block size of 16. namesmith buckets names by length (mean padded length shown); "
              "the no-bucket row pads each batch to its longest name instead. Medians of 3 interleaved rounds.", "",
              "| model | PyTorch ms/step | namesmith ms/step | speed-up | namesmith, no buckets | speed-up | mean T |",
              "|---|---|---|---|---|---|---|"]
        for cell, d in r["makemore_step"].items():
            t, n, npad = d["torch"]["ms_per_step"], d["namesmith"]["ms_per_step"], d["namesmith_no_bucket"]["ms_per_step"]
            L.append(f"| {cell} | {f(t, 2)} | {f(n, 2)} | **{f(t / n, 1)}×** | {f(npad, 2)} | {f(t / npad, 1)}× | "
                     f"{f(d['namesmith']['mean_T'], 1)} vs 16 |")
        d = r["makemore_step"]["rnn"]
        L += ["", f"Commands: `{d['namesmith']['_command']}`; `{d['torch']['_command']}`", ""]

    if "time_to_target" in r:
        t = r["time_to_target"]
        ns, ref = t["namesmith"], t["torch"]
        L += ["## Time to a held-out NLL of 2.05 and best NLL in 5 minutes (makemore's `rnn`)", "",
              "Both train the same model (as above) on train.txt for 300 s of training time and evaluate test.txt "
              "every 500 steps (evaluation time not counted). Both are reported as makemore reports: the best "
              "test NLL seen during training.", "",
              "| implementation | seconds to NLL ≤ 2.05 | best NLL in 300 s | steps | ms/step | peak RSS |",
              "|---|---|---|---|---|---|",
              f"| PyTorch reference | {f(ref['seconds_to_target'], 1)} | {f(ref['best_nll'], 4)} | {ref['steps']:,} | "
              f"{f(ref['ms_per_step'], 2)} | {f(ref['peak_rss_mb'], 0)} MB |",
              f"| namesmith | {f(ns['seconds_to_target'], 1)} | {f(ns['best_nll'], 4)} | {ns['steps']:,} | "
              f"{f(ns['ms_per_step'], 2)} | {f(ns['peak_rss_mb'], 0)} MB |"]
        if ns["seconds_to_target"] and ref["seconds_to_target"]:
            L.append(f"\nnamesmith reaches 2.05 in {f(ns['seconds_to_target'] / ref['seconds_to_target'] * 100, 0)}% "
                     "of the reference's time.")
        L += ["", f"Command: `{ns['command']}`", ""]

    if "seed_200k" in r:
        q = r["seed_200k"]
        L += ["## The notebook's algorithm on the benchmark corpus", "",
              f"`--recipe seed` trained on train.txt for 200,000 iterations ({f(q['wall_seconds'], 0)} s wall): "
              f"test NLL **{f(q['test_nll'], 4)}** nats/char ({f(q['test_bits_per_char'], 4)} bits/char). "
              f"Command: `{q['command']}`", ""]

    if "rnn_5min" in r:
        q = r["rnn_5min"]
        L += ["## Best vanilla RNN in 5 minutes", "",
              "Honest protocol: 5% of train.txt is held out for checkpoint selection, test.txt is used once at the "
              "end.", "", f"- {q['model']}: test NLL **{f(q['test_nll'], 4)}** nats/char "
              f"({f(q['test_bits_per_char'], 4)} bits/char), {f(q['chars_per_s'], 0)} chars/s, "
              f"peak RSS {f(q['peak_rss_mb'], 0)} MB", f"- Command: `{q['command']}`", ""]

    if "flops" in r:
        L += ["## Compute efficiency", "",
              "Vanilla RNN, hidden 256, one-hot input, float32: FLOPs of the matrix products of a training step "
              "(counted in `benchmarks/throughput.py: rnn_step_flops`) per second, against the float32 "
              "matrix-multiply peak measured in the same process.", "",
              "| batch | ms/step | chars/s | achieved GFLOP/s | peak GFLOP/s | share of peak |", "|---|---|---|---|---|---|"]
        for x in r["flops"]:
            L.append(f"| {x['batch']} | {f(x['ms_per_step'], 1)} | {f(x['chars_per_s'], 0)} | {f(x['achieved_gflops'], 1)} | "
                     f"{f(x['peak_gflops'], 1)} | **{f(100 * x['share_of_peak'], 0)}%** |")
        L += ["", f"Command: `{r['flops'][0]['_command']}`", ""]

    if "families" in r or "presets" in r or "ngram" in r:
        L += ["## Model families and presets", "",
              "Held-out protocol as above (train.txt minus a 5% validation split; test.txt once). "
              "Mixtures interpolate the network with a Kneser-Ney n-gram, weights fitted on the validation split. "
              "Parameters count the network's weights; n-gram sizes are the number of stored contexts. The "
              "10-minute rows train for the whole budget with the learning rate decaying to zero at its end "
              "(best validation checkpoint kept); the presets stop after a fixed number of steps or early.", "",
              "| model | budget | test NLL (nats/char) | bits/char | parameters | chars/s | wall time | peak RSS |",
              "|---|---|---|---|---|---|---|---|"]
        for q in r.get("families", {}).values():
            alone = q.get("neural_test_nll") or q["test_nll"]  # a mixed run: the network alone, then the mixture
            name = (q.get("neural_model") or q["model"]) + (", `--ema 0.999`" if "--ema" in q["command"] else "") + (
                " (one core: trained beside another run)" if q.get("note") else "")
            L.append(f"| {name} | 10 min | {f(alone, 4)} | {f(alone / math.log(2), 3)} | "
                     f"{q['params']:,} | {f(q['chars_per_s'], 0)} | {f(q['wall_seconds'], 0)} s | {f(q['peak_rss_mb'], 0)} MB |")
            if q.get("neural_test_nll"):
                L.append(f"| the same + its n-gram: {q['model']} | 10 min | **{f(q['test_nll'], 4)}** | "
                         f"{f(q['test_bits_per_char'], 3)} | | | | |")
        for p, q in r.get("presets", {}).items():
            neural = q.get("neural_test_nll")
            nparams = q.get("neural_params", q["params"])
            if neural is not None:
                L.append(f"| network of `--preset {p}` ({q.get('neural_model', '')}) | {p} | {f(neural, 4)} | "
                         f"{f(neural / math.log(2), 3)} | {nparams:,} | {f(q['chars_per_s'], 0)} | | |")
            alone = q.get("networks_test_nll")
            if alone:  # an ensemble: each network alone
                L.append(f"| networks of `--preset {p}` ({len(alone)} x {q.get('neural_model', '')}), each alone | "
                         f"{p} | {' / '.join(f(x, 4) for x in alone)} | "
                         f"{' / '.join(f(x / math.log(2), 3) for x in alone)} | {nparams:,} in all | | | |")
            L.append(f"| **`--preset {p}`**: {q['model']} | {f(q['wall_seconds'], 0)} s | **{f(q['test_nll'], 4)}** | "
                     f"{f(q['test_bits_per_char'], 3)} | | {f(q['chars_per_s'], 0)} | {f(q['wall_seconds'], 0)} s | "
                     f"{f(q['peak_rss_mb'], 0)} MB |")
        for q in r.get("ngram", []):
            L.append(f"| {q['model']} | fit | {f(q['test_nll'], 4)} | {f(q['test_bits_per_char'], 3)} | | | "
                     f"{f(q['wall_seconds'], 1)} s | {f(q['peak_rss_mb'], 0)} MB |")
        cmds = [q["command"] for q in list(r.get("families", {}).values()) + list(r.get("presets", {}).values())]
        L += ["", "Commands:", ""] + [f"- `{c}`" for c in cmds] + [""]

    if "ensembles" in r:
        L += render_ensembles(r)
    L += render_training_tricks(r)

    if "corpora" in r:
        L += ["## Which model for which corpus size", "",
              "Each corpus split 90/10 into train/test (seed 0); the models see only the training part (minus a "
              "10% validation split for checkpoint selection and mixture weights). Test NLL in nats/char and wall "
              "time of `namesmith train`.", "",
              "| corpus | names | 5-gram (KN) | `--preset fast` | `--preset default` |", "|---|---|---|---|---|"]
        for cname, d in r["corpora"].items():
            cells = [f"{f(q['test_nll'], 3)} ({f(q['wall_seconds'], 0)} s)" for q in d["rows"].values()]
            L.append(f"| {cname} | {d['names']:,} | " + " | ".join(cells) + " |")
        L += [""]

    if "sampling" in r:
        s = r["sampling"]
        L += ["## Sampling speed", "",
              f"{s['model']}, temperature 1, {s['n']:,} names per call (mean length {f(s['mean_len'], 2)}), "
              f"best of 5 calls: **{f(s['names_per_s'], 0)} names/s** (median {f(s['names_per_s_median'], 0)}).", "",
              f"Command: `{s['_command']}`", ""]

    if "parallel" in r:
        c = r["parallel"]
        L += ["## Several networks at once (`--ensemble`, `--folds`)", "",
              f"Wall time of `namesmith train --ensemble 2` ({c['what']}; median of {c['reps']} alternated runs on a "
              "quiet machine): `--jobs 1` trains the two one after the other in this process, the thread tuner "
              "choosing the BLAS threads; `--jobs 2` (the default on 2 cores) trains them side by side in two "
              "processes with one BLAS thread each (`runtime.run_parallel`). The two networks are the same either way.",
              "", "| networks | one after the other | side by side | speed-up |", "|---|---|---|---|",
              f"| 2 | {f(c['one_after_the_other_s'], 1)} s | {f(c['side_by_side_s'], 1)} s | "
              f"**{f(c['speedup'], 2)}×** |", "", f"Command: `{c['command']}`", ""]
    if "contention" in r:
        c = r["contention"]
        n = c["blas_default_threads"]
        L += ["## Training on a shared machine (BLAS threads under contention)", "",
              f"Training time (steps only) and the whole command's wall time (median of {c['reps']} interleaved "
              f"runs; measured {c.get('date', r.get('date', '?'))}) with the BLAS thread "
              f"count fixed at 1, fixed at the BLAS default ({n}), or chosen by namesmith (no `--threads`: every "
              "phase runs one thread except the training steps, where it times steps with 1 and with the default "
              "and keeps the faster, trying more threads only when the kernel reports a core idle since the last "
              "decision (`/proc/stat`), and the choice then serves the final phases; `runtime.py`). *Busy*: one "
              "competing process (`python -c \"while True: pass\"`) occupies a core for the whole measurement, "
              "started and stopped by the benchmark. Speed is relative to 1 thread under the same conditions "
              "(higher is better), steps / wall.", "",
              f"| model | machine | 1 thread | {n} threads | namesmith's choice |", "|---|---|---|---|---|"]
        for cond in ("quiet", "busy"):
            for model, d in c[cond].items():
                cells = [f"{f(d[k]['median'], 2)} s / {f(d[k].get('wall'), 2)} s "
                         f"({f(d[k]['speed_vs_1_thread'], 2)}× / {f(d[k].get('wall_speed_vs_1_thread'), 2)}×)"
                         for k in ("1", str(n), "auto")]
                L.append(f"| {model} | {cond} | " + " | ".join(cells) + " |")
        L += ["", f"Command: `{c['command']}`" + (f". {c['note']}." if c.get("note") else ""), ""]

    if "scale" in r:
        L += render_scale(r["scale"])

    if "pretrained" in r:
        L += ["## Pretrained models (shipped)", "",
              f"Built by `{r['pretrained']['command']}` (the default preset, seed 1337; `world` with a 5-gram); the "
              "NLL is each checkpoint's own held-out figure on its validation split (for `world`, each name under "
              "its own style). Details: `src/namesmith/pretrained/PRETRAINED.md`.", "",
              "| name | model | styles | validation NLL | file |", "|---|---|---|---|---|"]
        for m in r["pretrained"]["models"]:
            L.append(f"| `{m['name']}` | {m['model']} | {m['styles'] or '-'} | {f(m['nll'], 4)} | "
                     f"{f(m['bytes'] / 1e6, 1)} MB |")
        L += [""]

    if "styles" in r:
        L += render_styles(r["styles"])

    if "serving" in r and "rounds" in r["serving"]:
        sv = r["serving"]
        L += ["## Serving: the standard-library server and the FastAPI/uvicorn one, round by round", "",
              f"Measured {sv.get('date', '?')} with `{sv['command']}`: `POST /api/generate` with the body "
              '`{"n": 20, "temperature": 1.0, "min_len": 3, "max_len": 12}`, wrk with 2 threads and 8 keep-alive '
              "connections for 10 s on loopback, unpinned (wrk shares the 2 cores with the server); the three "
              "servers interleaved in each round. *Old*: `namesmith serve` of 755fb8c (ThreadingHTTPServer, one "
              "process); *new*: this version with `--workers 1` and `--workers 2` (the default on 2 cores; one "
              "BLAS thread per worker, one request at a time per worker on its event loop, each kept-alive "
              "connection closed after its answer so the next request reaches a free worker). Each server "
              "serves an RNN-128 that its own version trained. Cells: requests/s (× the old server in the same "
              "round), p99 ms.", "",
              "| round | " + " | ".join(sv["rounds"][0]) + " |", "|---|" + "---|" * len(sv["rounds"][0])]
        for i, row in enumerate(sv["rounds"], start=1):
            L.append(f"| {i} | " + " | ".join(f"{f(m['requests_per_s'], 0)} ({f(m['vs_old'], 2)}×), "
                                               f"{f(m['p99_ms'], 1)} ms" for m in row.values()) + " |")
        L += [""] + [f"* {label}: median {f(m['median_requests_per_s'], 0)} requests/s, lowest round "
                     f"{f(m['min_vs_old'], 2)}× the old server, highest p99 {f(m['max_p99_ms'], 1)} ms"
                     for label, m in sv["summary"].items()]
        if sv.get("before"):
            L += [f"* before this round's changes (the same protocol, 2 workers, requests in a thread pool and "
                  f"kept-alive connections staying with one worker): {sv['before']}"]
        L += [""]
    if "slowloris" in r:
        sl = r["slowloris"]
        L += ["### Slow-loris on kept-alive connections", "",
              f"Measured {sl.get('date', '?')} with `{sl['command']}`: {sl['attackers']:,} connections each get "
              "one answer, then trickle the next request's headers at a byte per second; a probe opens a new "
              f"connection every 50 ms and asks `/healthz`, with `--workers {sl['workers']}`. Of "
              f"{sl['trickling_after_first_answer']:,} trickling connections the server held "
              f"{sl['held_at_end']:,} at the end ({sl['seconds']:g} s); probes: {sl['probe_200']} of "
              f"{sl['probes']} answered 200, p50 {f(sl['probe_p50_ms'], 1)} ms, p99 {f(sl['probe_p99_ms'], 1)} ms"
              + (f". {sl['before']}" if sl.get("before") else "") + ".", ""]

    if "style_guidance" in r:
        L += render_style_guidance(r["style_guidance"])
    if "export" in r:
        L += render_export(r["export"])
    if "offensive" in r:
        L += render_offensive(r["offensive"])
    if "similar" in r:
        L += render_similar(r["similar"])
    if "finetune_time" in r:
        L += render_finetune_time(r["finetune_time"])
    if "scratch_time" in r:
        L += render_scratch_time(r["scratch_time"])
    if "web" in r:
        L += ["## Web API under load", "",
              "`POST /api/generate` with n = 20, 8 concurrent keep-alive clients for 20 s on loopback "
              "(wrk), server `namesmith serve` (one BLAS thread).", "",
              "| model | requests/s | p50 ms | p99 ms | errors |", "|---|---|---|---|---|"]
        for name, w in r["web"].items():
            L.append(f"| {name} | {f(w['requests_per_s'], 0)} | {f(w['p50_ms'], 1)} | {f(w['p99_ms'], 1)} | {w['errors']} |")
        L += ["", f"Command: `{r['web']['rnn128']['_command']}`", ""]
    return "\n".join(L) + "\n"


def render_finetune_time(ft: dict) -> list[str]:
    old, new = list(ft["variants"])[:2]
    L = ["## Time to a fine-tuned model", "",
         f"Measured {ft.get('date', '?')} with `{ft.get('_command', 'python benchmarks/finetune_time.py')}` on this "
         "machine (2 cores, nothing else running): `namesmith train LIST --init-from BASE` as typed, its wall time "
         f"from start to exit (median of {ft['reps']} runs, the two presets interleaved), and the test NLL of the "
         "model it wrote on 1,000 names of the same kind it never saw, paired over those names (± the bootstrap "
         "standard error of the difference). Lists: dinosaurs and US census surnames (names neither base was "
         "trained on; world holds surnames, so only given-names is their base), 60 and 200 names taken at random. "
         f"*Before*: the finetune preset of 0.8 ({old.split('(', 1)[1].rstrip(')')}); *after*: today's "
         f"({new.split('(', 1)[1].rstrip(')')}).", "",
         "| list | base | wall before | wall after | speed-up | test NLL before | test NLL after | after − before |",
         "|---|---|---|---|---|---|---|---|"]
    return L + _before_after(ft["rows"], old, new, lambda row: f"`{row['base']}`") + [""]


def _before_after(rows: list[dict], old: str, new: str, second) -> list[str]:
    """The table rows of benchmarks/finetune_time.py: wall times, their ratio, the paired test NLL."""
    out = []
    for row in rows:
        a, b = row["variants"][old], row["variants"][new]
        p = b["paired"]
        out.append(f"| {row['list']} | {second(row)} | {a['wall_s']:.1f} s | {b['wall_s']:.1f} s | "
                   f"{a['wall_s'] / b['wall_s']:.1f}× | {p['a_nll']:.4f} | {p['b_nll']:.4f} | "
                   f"{p['diff']:+.4f} ± {p['diff_se']:.4f} |")
    return out


def render_scratch_time(st: dict) -> list[str]:
    old, new = list(st["variants"])[:2]
    L = ["### Small lists from scratch", "",
         f"Measured {st.get('date', '?')} with `{st.get('_command', 'python benchmarks/finetune_time.py --scratch')}`"
         " the same way, `namesmith train LIST` with the default preset, one run per seed: *before* without "
         "`--eval-epochs` (evaluated every 250 steps: 83 epochs of a 200-name list at batch 64), *after* with the "
         "preset's `--eval-epochs 4`. The test names: 1,000 others of each kind (of the 1,542 dinosaurs, 530 for the "
         "1,000-name list).", "",
         "| list | seed | wall before | wall after | speed-up | test NLL before | test NLL after | after − before |",
         "|---|---|---|---|---|---|---|---|"]
    return L + _before_after(st["rows"], old, new, lambda row: str(row["seed"])) + [""]


def render_similar(sm: dict) -> list[str]:
    L = ["## Names like this one", "",
         f"Measured {sm.get('date', '?')} with `{sm.get('_command', 'python benchmarks/similar.py world')}` on this "
         "machine. An independent judge (a per-style Kneser-Ney 4-gram Bayes classifier counted on the world corpus, "
         "not the model) gives each name a style posterior. For 60 real names of the corpus taken at random (one "
         "liked name), and 20 sets of three names of one style (`--like A,B,C`), 10 names come back from "
         "`similar` (`ck.similar(liked, 10)`), from plain sampling (`sample -n 10 --novel`, the same seed) and from "
         "sampling with the first liked name's first third as a prefix (no steering, no ranking). *Style distance*: "
         "total variation between the mean judged posterior of the 10 names and the liked names' (0: the same "
         "styles, 1: none shared). *Edit distance*: to the nearest liked name, normalised by the longer name. "
         "Differences paired over the liked sets, ± one standard error.", "",
         "| liked | arm | style distance | similar − arm | edit distance | similar − arm | similar closer in | "
         "s per call |", "|---|---|---|---|---|---|---|---|"]
    for key, label in (("one_name", "one name"), ("three_names", "three names")):
        row = sm[key]
        L.append(f"| {label} | similar | {f(row['tv']['unsteered']['mean_a'])} | | "
                 f"{f(row['edit']['unsteered']['mean_a'])} | | | {f(row['seconds']['similar'], 2)} |")
        for arm in ("unsteered", "prefix"):
            t, e = row["tv"][arm], row["edit"][arm]
            L.append(f"| {label} | {arm} | {f(t['mean_b'])} | {t['diff']:+.3f} ± {t['se']:.3f} | {f(e['mean_b'])} | "
                     f"{e['diff']:+.3f} ± {e['se']:.3f} | {t['a_closer']} of {t['pairs']} | "
                     f"{f(row['seconds'][arm], 2)} |")
    ex = sm["one_name"]["examples"][:4] + sm["three_names"]["examples"][:2]
    L += ["", "Examples (the first five names): " + "; ".join(
        f"{', '.join(e['liked'])} → {', '.join(e['names'])}" for e in ex) + ".", ""]
    return L


def render_offensive(o: dict) -> list[str]:
    pct = lambda k, n: f"{k:,} ({100 * k / max(n, 1):.3f}%)"  # noqa: E731
    ex = lambda xs: ", ".join(f"`{x}`" for x in xs[:8]) or "-"  # noqa: E731
    L = ["## Offensive names", "",
         f"Measured {o.get('date', '?')} with `{o['_command']}` on this machine (the list: {o['list']} without "
         f"its Turkish list, {o['words']:,} keys matched as a whole name). *Samples*: {o['n']:,} names of each shipped model (seed 1, default options) drawn "
         "with `offensive=\"allow\"` and judged by the filter in each mode, and by a plain substring test (any "
         "listed word of 4 letters or more inside the name's letters: the naive filter); then the same number "
         "drawn with the default `block` and judged again (the target: 0). Speed: 20,000 names with `allow` and "
         "with `block`, 3 rounds interleaved, medians.", "",
         "| model | block rejects | strict rejects | substring test flags | offensive after block | names/s allow | "
         "names/s block | block rejected, examples |", "|---|---|---|---|---|---|---|---|"]
    for m, row in o["samples"].items():
        L.append(f"| `{m}` | {pct(row['block'], row['names'])} | {pct(row['strict'], row['names'])} | "
                 f"{pct(row['substring'], row['names'])} | {row['after_block']} | "
                 f"{row['names_per_s']['allow']:,.0f} | {row['names_per_s']['block']:,.0f} | "
                 f"{ex(row['block_examples'])} |")
    L += ["", "The filter costs about a tenth of the sampler's rate (the check is 8 µs a name in Python); the "
          "substring test would reject 15 times as many names, most of them harmless (`Michelle`, `Babcock`).",
          "", "*Real names the filter never saw*: each built-in corpus's names that no other built-in corpus "
          "holds, judged with the other corpora as the real names (leave one out): the false-rejection rate a "
          "user's own real names would meet. (With every corpus as the real names, as shipped, no name of the "
          "built-in corpora is rejected by `block`: tests/test_offensive.py.)", "",
          "| corpus | names | block rejects | strict rejects | substring test flags | block rejected, examples |",
          "|---|---|---|---|---|---|"]
    for c, row in o["real_names"].items():
        L.append(f"| `{c}` | {row['names']:,} | {pct(row['block'], row['names'])} | "
                 f"{pct(row['strict'], row['names'])} | {pct(row['substring'], row['names'])} | "
                 f"{ex(row['block_examples'])} |")
    L += ["", "What `block` lets pass that a product may not want is a real name that is a listed word as a "
          "whole (`Dick`, `Cumming`): `strict` rejects those too. Names that are neither listed nor hold an "
          "English listed word (`Fanny` is not on the list) pass in every mode.", ""]
    return L


def render_export(ex: dict) -> list[str]:
    L = ["## Exported pages: the model in the browser", "",
         f"Measured {ex.get('date', '?')} with `{ex['command']}` in headless Chromium {ex['chromium']} (the "
         "system's, through Playwright) on this machine: `namesmith export MODEL --web DIR`, the page opened from "
         "`file://`. *Site*: all its files gzipped (level 9, as a static host serves them). *First names*: from "
         "opening the page until its first 20 names are shown (it generates on opening). Then "
         f"{ex['n']:,} names per round through the page's own backend (`namesmith.js`, its network step in "
         "WebAssembly SIMD), each round followed by the Python sampler (`Checkpoint.sample`, one BLAS thread) "
         f"on the same seed and options, {ex['rounds']} rounds interleaved, medians: with the Python API's default "
         "options, and with the page's (new names only, no duplicates, at least 3 letters: rejected candidates "
         "count against the rate).", "",
         "| model | site (gzip) | first names | page names/s | Python names/s | page, page options | Python, page options |",
         "|---|---|---|---|---|---|---|"]
    for m in ex["models"]:
        d, pg = m["default"], m["page"]
        L.append(f"| `{m['model']}` | {m['site_gzip_bytes'] / 1e6:.2f} MB | {m['first_names_s']:.2f} s | "
                 f"{d['page_names_per_s']:,} | {d['python_names_per_s']:,} | {pg['page_names_per_s']:,} | "
                 f"{pg['python_names_per_s']:,} |")
    L += ["", "The weights file (`model.js`) is nearly all of a site; `namesmith.js`, the page and its style "
          "sheet are about 42 kB gzipped together. The JavaScript sampler is exact, not fast at all costs: "
          "float32 weights as the checkpoint holds them, every next-character distribution equal to NumPy's to "
          "1e-5 (tests/test_export.py).", ""]
    return L


def render_style_guidance(sg: dict) -> list[str]:
    L = ["## Style guidance: samples that stay in their style", "",
         f"Measured {sg.get('date', '?')} with `{sg['command']}` on the shipped `{sg['model']}` model (35 styles): "
         f"{sg['per_style_samples']} samples per style at temperature 1 for each `--style-strength` g, judged by an "
         "independent per-style Kneser-Ney 4-gram Bayes classifier counted on a 90% split of the corpus. "
         "*Fidelity* = the share of a style's samples the judge labels with that style ÷ the share of its real "
         "held-out names (the other 10%) it labels so; above 1, the samples are easier to place than real names "
         "(many real names of the `world` corpus are listed under several origins). *Held-out NLL*: the real "
         "names of the 10%, each under its own style guided with g (the model saw some of them in training, so "
         "it compares the strengths, it is not a test NLL). *Novel*: samples not in the corpus.", "",
         "| g | styles with fidelity ≥ 0.9 | median fidelity | lowest | novel | held-out NLL |",
         "|---|---|---|---|---|---|"]
    for row in sg["rows"]:
        L.append(f"| {row['strength']:g} | {row['styles_at_0.9']} of {row['styles']} | "
                 f"{f(row['median_fidelity'], 2)} | {f(row['min_fidelity'], 2)} | {row['mean_novel']:.1%} | "
                 f"{f(row.get('heldout_nll'), 4)} |")
    L += ["", "The default, g = 0.5, is where the styles' fidelity rises most at no cost in the likelihood of real "
          "names (+0.001 nats/char); g = 1 costs 0.09 and g = 2 0.54, and reads as caricature (`Gafzzedo`, `Pizzipci`, "
          "`Äloäknänen`). g = 0 is the style exactly as trained. Guidance changes the letters, not the length "
          "(the end token keeps the style's probability), and leaves letters the style finds rare (below 1e-3) "
          "as they were.", ""]
    return L


def render_ensembles(r: dict) -> list[str]:
    L = ["## Ensembles: two networks and an n-gram", "",
         "Two 10-minute runs trained at the same time, one per core (so each had half the machine; the "
         "families table above shows them alone and with their own 6-gram), then `benchmarks/ensemble.py` mixes "
         "their networks with one 6-gram counted on the training names, weights fitted by EM on the shared 5% "
         "validation split (what `namesmith mix` does); test.txt once. Wall time: about 10 minutes of training "
         "plus set-up.", "",
         "| mixture | weights | validation NLL | test NLL | bits/char |", "|---|---|---|---|---|"]
    for e in r["ensembles"]:
        for row in e["rows"]:
            bold = "**" if row is e["rows"][-1] else ""
            L.append(f"| {row['parts']} | {' / '.join(f(w, 2) for w in row['weights'])} | {f(row['val_nll'], 4)} | "
                     f"{bold}{f(row['test_nll'], 4)}{bold} | {f(row['test_nll'] / math.log(2), 3)} |")
    if "ensemble_all" in r:
        last = r["ensemble_all"]["rows"][-1]
        L += ["", f"All four networks of these runs with one 6-gram ({last['parts']}; twice the training time): test "
                  f"NLL {f(last['test_nll'], 4)}, no better than the best pair. Command: "
                  f"`{r['ensemble_all']['command']}`"]
    L += ["", "Commands:", ""] + [f"- `{e['command']}`" for e in r["ensembles"]] + [""]
    return L


def render_training_tricks(r: dict) -> list[str]:
    """Weight averaging measured on the presets, and what was tried and not kept."""
    L: list[str] = []
    if "ema" in r:
        L += ["## Weight averaging (`--ema 0.999`)", "",
              "The default preset (as it was until 0.8.0: `--preset default --embed 32 --patience 10` today) and one "
              "network of the best preset (as it was until 0.7.0: `--preset best --ensemble 1 --patience 10` today) "
              "without and with an exponential moving average of "
              "the weights, evaluated and kept (everything else equal; one run after the other on a quiet machine). "
              "Both presets now include it.", "",
              "| run | test NLL | network alone | validation NLL | steps | wall time |", "|---|---|---|---|---|---|"]
        for name, q in r["ema"].items():
            L.append(f"| `--preset {name.replace('+ema', '` with `--ema 0.999')}`{'' if '+ema' in name else ' with `--ema 0`'} | **{f(q['test_nll'], 4)}** | "
                     f"{f(q.get('neural_test_nll'), 4)} | {f(q['val_nll'], 4)} | {q['steps']:,} | "
                     f"{f(q['wall_seconds'], 0)} s |")
        L += [""]
    if "default_embed" in r:
        L += ["## The default preset's embedding (0.8.0)", "",
              "`--preset default` as it was until 0.8.0 (LSTM-256, patience 10) with embeddings of 32 (its own), 64 and "
              "128, for two seeds on one split (seed 1338: `benchmarks/split.py`, as in 'Tried and not kept'); two runs "
              "side by side, one BLAS thread each. 64 and 128 beat 32 on validation and test for both seeds and tie "
              "with each other on test; the preset took 64 (the cheaper), and patience 4: in these six runs at most one "
              "evaluation without improvement ever came before a later best, and patience 10 spent 2,500 steps after "
              "the best (a third of the run).", "",
              "| seed | embedding | validation NLL | test NLL | network alone | steps |", "|---|---|---|---|---|---|"]
        for q in r["default_embed"]["rows"]:
            L.append(f"| {q['seed']} | {q['embed']} | {f(q['val_nll'], 4)} | **{f(q['test_nll'], 4)}** | "
                     f"{f(q['neural_test_nll'], 4)} | {q['steps']:,} |")
        L += ["", "Commands: " + "; ".join(f"`{q['command']}`" for q in r["default_embed"]["rows"]), ""]
    if "eval_checkpoints" in r:
        e = r["eval_checkpoints"]
        L += ["## Evaluations and checkpoints (0.8.1)", "",
              "A run saves two checkpoints at every evaluation (the best weights and the last state, optimizer "
              "moments included). 0.8.1 stores them uncompressed: compressed, they were 7% smaller and compressing took "
              "0.3 s of each evaluation of the default preset. The model file and the network alone stay compressed. "
              f"Time in the phase 'evaluations and checkpoints' of `--preset default --steps 1000` (five evaluations), "
              f"one BLAS thread, old and new interleaved, median of {e['reps']}: {f(e['median']['old'], 2)} s "
              f"({e['old']}) → {f(e['median']['new'], 2)} s, {f(e['new_speed_vs_old'], 2)}× the speed. The default "
              f"preset evaluates 22 times in its 5,250 steps: in its whole run the phase took {f(e['preset_phase']['new'], 1)} s "
              f"against {f(e['preset_phase']['old'], 1)} s with 0.8.0 (its run in the presets table, against the "
              "earlier one). "
              f"Command: `{e['command']}`.", ""]
    if "paired" in r:
        L += render_paired(r["paired"])
    if "tried" in r:
        L += ["## Tried and not kept", "", "Where a row says *one network of* `--preset best`, it means the preset "
              "as it was until 0.7.0 (`--preset best --ensemble 1 --patience 10` today). *Network 2 of* `--preset best` "
              "is what the preset's second network is: seed 1338 trained on the split of seed 1337, here alone "
              "(`benchmarks/split.py` writes that split as two files; two such runs side by side, one BLAS thread "
              "each), with the preset's patience 3; each variant changes one option of it. Many changes move the "
              "validation and the test NLL in opposite directions by a few thousandths: at that size they are "
              "noise of these 1,552 validation and 1,000 test names, so a change that helps only one of them is not kept. "
              "Measured: two networks trained differently differ on the 1,000 test names with a paired standard error of "
              "0.002-0.003 nats/char (rows marked *paired*; section 'How large a difference is real').", "",
              "| change | result | against | verdict |", "|---|---|---|---|"]
        for t in r["tried"]:
            res = ", ".join(f"{k.replace('_', ' ')} {' / '.join(f(x, 4) for x in v) if isinstance(v, list) else f(v, 4)}"
                            for k, v in t.items() if k.endswith("nll") or "nll_at" in k)
            if "paired" in t:
                res += f"; against the preset, paired: {t['paired']['diff']:+.4f} ± {t['paired']['se']:.4f}"
            L.append(f"| {t['what']} | {res} | {t['baseline']} | {t['verdict']} |")
        commands = dict.fromkeys(c for t in r["tried"] for c in (t.get("command"), t.get("paired", {}).get("command")) if c)
        L += ["", "Commands: " + "; ".join(f"`{c}`" for c in commands), ""]
    return L


def render_paired(rows: list[dict]) -> list[str]:
    """The paired bootstrap over the test names: what a difference between two models is worth."""
    def name(path: str) -> str:
        return "`" + Path(path).name.removesuffix(".npz") + "`"

    one = max(max(q["a_se"], q["b_se"]) for q in rows)
    L = ["## How large a difference is real (paired bootstrap over the test names)", "",
         f"Every test NLL here is measured on the same {rows[0]['names']:,} names. Another draw of 1,000 names would "
         f"move one model's figure by a standard error of about {f(one, 4)} nats/char, so an absolute target such as "
         "≤ 1.84 is a threshold on a number that uncertain. Two models scored on the same names share most of that "
         "spread: resampling the names with replacement, the same resample for both models "
         f"({rows[0]['reps']:,} resamples, `benchmarks/paired.py`), gives the spread of their difference. "
         "*B better in* is the share of resamples in which B has the lower NLL.", "",
         "| A | B | A NLL | B NLL | B − A | its standard error | 95% interval | B better in |",
         "|---|---|---|---|---|---|---|---|"]
    for q in rows:
        L.append(f"| {name(q['a'])} | {name(q['b'])} | {f(q['a_nll'], 4)} | {f(q['b_nll'], 4)} | "
                 f"**{q['diff']:+.4f}** | {f(q['diff_se'], 4)} | [{q['diff_95'][0]:+.4f}, {q['diff_95'][1]:+.4f}] | "
                 f"{100 * q['b_better_share']:.0f}% |")
    L += ["", "Commands: " + "; ".join(f"`{q['_command']}`" for q in rows), ""]
    return L


def _recipe(st: dict) -> str:
    one = st.get("one_model_preset", "fast")
    return one if one.startswith("--") else f"--preset {one}"


def render_styles(st: dict) -> list[str]:
    import statistics

    cond, sep = st["conditional"], st["separate"]
    L = ["## Styles: one conditional model, classification, fine-tuning, blends", "",
         f"Measured {st.get('date', '?')} with `{st['command']}` on the built-in `world` corpus ({st['styles']} "
         f"styles): per style a fixed 10% of the names is the test set ({st['test_names']:,} names), used once, "
         "a name listed under several styles going wholly to one side (every test name is new to every model); "
         f"every model trains on the other {st['train_names']:,} (holding out its own validation names). NLL is "
         "nats/char on each style's test names, each name scored under its own style."
         + (f" Note: {st['note']}." if st.get("note") else ""), "",
         "**One conditional model against separate per-style models.** The conditional model is "
         f"`{_recipe(st)}` on the labelled training names "
         f"({f(st['conditional_fast_seconds'], 0)} s); the separate models are "
         "`--preset fast` and KN-5 trained on each style's names alone.", "",
         "The last column is the conditional model minus the better separate model on the test names both score, "
         "± its standard error over resamples of those names (paired bootstrap, `benchmarks/paired.py`): with a "
         "few dozen test names a style's figure moves by a few hundredths.", "",
         "| style | training names | conditional | separate fast | separate KN-5 | better of the separate | "
         "conditional − better (± s.e.) |",
         "|---|---|---|---|---|---|---|"]
    wins, small_wins, small = 0, 0, 0
    rows = sorted(sep.items(), key=lambda kv: kv[1]["train_names"])
    for style, d in rows:
        c = cond["per_style"][style]["nll"]
        best = min(d["fast_nll"], d["kn5_nll"])
        wins += c <= best
        if d["train_names"] < 500:
            small += 1
            small_wins += c <= best
        L.append(f"| {style} | {d['train_names']:,} | {f(c, 3)} | {f(d['fast_nll'], 3)} | {f(d['kn5_nll'], 3)} | "
                 f"{f(best, 3)} | {_pm(d.get('paired_conditional_vs_separate'))} |")
    mean_c = statistics.mean(cond["per_style"][s]["nll"] for s in sep)
    mean_b = statistics.mean(min(d["fast_nll"], d["kn5_nll"]) for d in sep.values())
    L += ["", f"Mean over these styles: conditional {f(mean_c, 3)}, better of the separate models {f(mean_b, 3)}; "
          f"the conditional model is at least as good on {wins} of {len(sep)} styles, and on {small_wins} of the "
          f"{small} with fewer than 500 training names.", ""]
    kb = st["kn4_bayes"]
    L += [f"**Classification** of the test names: the conditional model (training priors) "
          f"{f(100 * cond['accuracy'], 1)}% accuracy, macro {f(100 * cond['macro_accuracy'], 1)}%; a per-style "
          f"KN-4 Bayes classifier on the same split {f(100 * kb['accuracy'], 1)}%, macro "
          f"{f(100 * kb['macro_accuracy'], 1)}%." + _gain(st.get("classification_gain")), ""]
    ft = st["finetune"]
    L += [f"**Fine-tuning** a base that never saw the style (`{_recipe(st)}` on the "
          "training names without "
          f"{', '.join(sorted({x['style'] for x in ft['lists']}))}, {f(ft['base_seconds'], 0)} s) on a small list "
          "of that style, against training on the list from scratch (`--preset fast`) and Kneser-Ney of order 3-5; "
          "test NLL on the style's test names.", "",
          "| style | list | fine-tuned | from scratch (fast) | best KN (order) | fine-tuned vs the better other | "
          "fine-tuned − the better other (± s.e.) |",
          "|---|---|---|---|---|---|---|"]
    if ft.get("note"):
        L[-4] += f" Measured {ft.get('date', '?')}, {ft['note']} (beside another job, one core each)."
    for x in ft["lists"]:
        order, kn = min(x["kn_nll"].items(), key=lambda kv: kv[1])
        other = min(x["scratch_fast_nll"], kn)
        L.append(f"| {x['style']} | {x['names']} | {f(x['finetuned_nll'], 3)} ({f(x['finetune_seconds'], 0)} s) | "
                 f"{f(x['scratch_fast_nll'], 3)} | {f(kn, 3)} ({order}) | "
                 f"{f(100 * (x['finetuned_nll'] / other - 1), 1)}% | {_pm(x.get('paired_vs_best_scratch'))} |")
    b = st["blend"]
    shares = ", ".join(f"{f(x['weight_a'], 2)} → {f(100 * x['share_classified_a'], 0)}%" for x in b["shares"])
    L += ["", f"**Blends** `{b['styles'][0]}=w,{b['styles'][1]}=1-w` (400 names each, the conditional model): "
          f"the share the classifier assigns to {b['styles'][0]} as w goes 0 → 1: {shares}.", ""]
    if "first_names" in st:
        fn = st["first_names"]
        L += [f"**From a fresh clone to the first styled names** (`{fn['command']}`): a new venv and "
              f"`pip install -e .` {f(fn['install_seconds'], 0)} s (pip's cache warm), then "
              f"`namesmith sample world --style Italian -n 5` {f(fn['first_names_seconds'], 1)} s, no training.", ""]
    return L


def _pm(p: dict | None) -> str:
    """A paired difference ± its standard error, and on how many names (benchmarks/paired.py)."""
    return "—" if not p else f"{p['diff']:+.3f} ± {p['diff_se']:.3f} ({p['names']} names)"


def _gain(g: dict | None) -> str:
    if not g:
        return ""
    lo, hi = g["points_95"]
    return (f" The difference, paired on the same test names: {g['points']:+.1f} points, standard error "
            f"{g['se_points']:.1f}, 95% interval [{lo:+.1f}, {hi:+.1f}].")


def render_scale(sc: dict) -> list[str]:
    L = ["## Scale: a million words, thousands of symbols", "",
         f"Measured {sc.get('date', '?')} with `{sc['command']}` (each figure from its own child process; "
         "peak RSS = VmHWM). Corpora from `scripts/build_large_corpora.py` (wordfreq, CC-BY-SA 4.0, not "
         "committed): 1,000,000 distinct lowercase words of 13 Latin-script languages, shuffled; 100k and 300k "
         "are its first lines. *Set-up* is the default preset's wall time minus its training steps (reading, "
         "hashing, evaluations, the 6-gram mixture, score quantiles, saving); the default-preset runs train "
         "100 steps. Targets from the scale issue in brackets.", "",
         "| corpus | read s (RSS MB) | KN-6 run s | KN-6 peak RSS MB | KN-6 .npz MB | held-out NLL | "
         "default set-up s | default peak RSS MB | training chars/s |",
         "|---|---|---|---|---|---|---|---|---|"]
    for label, d in sc["sizes"].items():
        rd, kn, de = d["read"], d["kn6"], d["default"]
        L.append(f"| {label} | {f(rd['seconds'], 2)} ({f(rd['peak_rss_mb'], 0)}) | {f(kn['seconds'], 1)} | "
                 f"{f(kn['peak_rss_mb'], 0)} | {f(kn['npz_mb'], 1)} | {f(kn['val_nll'], 4)} | "
                 f"{f(de['setup_seconds'], 1)} | {f(de['peak_rss_mb'], 0)} | {f(de['chars_per_s'], 0)} |")
    g = sc["growth_100k_to_1M"]
    one = sc["sizes"]["1M"]
    L += ["", f"At 1M: KN-6 {f(one['kn6']['seconds'], 1)} s for the whole run, of which the fit "
          f"{f(one['kn6']['phases']['fitting'], 1)} s [≤ 15 s], peak RSS {f(one['kn6']['peak_rss_mb'], 0)} MB "
          f"[≤ 1 GB], {f(one['kn6']['npz_mb'], 1)} MB [≤ 60 MB]; default preset set-up "
          f"{f(one['default']['setup_seconds'], 1)} s [≤ 30 s], peak RSS {f(one['default']['peak_rss_mb'], 0)} MB "
          "[≤ 1.5 GB]. Growth from 100k to 1M as the exponent k of cost ∝ size^k (1 = linear): reading "
          f"{f(g['read_seconds'], 2)}, KN-6 fit {f(g['kn6_fit_seconds'], 2)}, KN-6 file {f(g['kn6_npz_mb'], 2)}, "
          f"default set-up {f(g['default_setup_seconds'], 2)}, default peak RSS {f(g['default_peak_rss_mb'], 2)}. "
          "Before this work the same 1M-line KN-6 run took 121.6 s at 1.47 GB peak RSS with a 45.7 MB file "
          "(the issue reported 38.7 s / 3.24 GB / 269 MB for the dense tables), and the default preset's "
          "set-up 345 s at 1.51 GB. Checkpoints are written compressed (`np.savez_compressed`): saving the 1M "
          "6-gram takes about 2.6 s of the run, the file is half the size.", ""]
    kd, kn = sc["kanji"]["default"], sc["kanji"]["ngram"]
    L += [f"**A 2,686-symbol alphabet** (20,000 Japanese words from wordfreq's `ja` list, kanji and kana; "
          f"{kd['symbols'] - 1:,} characters): the default preset trains at {f(kd['chars_per_s'], 0)} chars/s "
          f"(300 steps; the mixture's n-gram is order 5, the highest whose keys fit 64 bits), set-up "
          f"{f(kd['setup_seconds'], 1)} s, peak RSS {f(kd['peak_rss_mb'], 0)} MB, model file "
          f"{f(kd['npz_mb'], 1)} MB [n-gram ≤ 20 MB], validation NLL {f(kd['val_nll'], 3)}; sampling "
          f"{f(kd['sample_names_per_s'], 0)} names/s (2,000 names per call, LSTM-256 + 5-gram). The 5-gram "
          f"alone: fitted in {f(kn['phases']['fitting'], 2)} s, {f(kn['npz_mb'], 1)} MB, validation NLL "
          f"{f(kn['val_nll'], 3)}. Before this work that corpus trained at ~3,600 chars/s and the default "
          "preset stopped with an error (order 6 over 2,687 symbols).", ""]
    if "regression" in sc:
        g = sc["regression"]
        L += [f"No regression on the benchmark split: training time against {g['old']} (the code before this "
              "work), one BLAS thread, interleaved, median of 5: default preset 300 steps "
              f"{f(g['default']['median']['old'], 2)} s → {f(g['default']['median']['new'], 2)} s "
              f"({f(g['default']['new_speed_vs_old'], 2)}× the speed); makemore's RNN 1,000 steps "
              f"{f(g['makemore_rnn']['median']['old'], 2)} s → {f(g['makemore_rnn']['median']['new'], 2)} s "
              f"({f(g['makemore_rnn']['new_speed_vs_old'], 2)}×). Command: `{g['command']}`.", ""]
        if "ngram_sampling" in g:
            import statistics

            ns = g["ngram_sampling"]
            old, new = statistics.median(ns["dense_names_per_s"]), statistics.median(ns["sparse_names_per_s"])
            L += [f"Sampling from a pure 6-gram (10,000 names per call; median of 5 interleaved processes): "
                  f"dense tables ({ns['dense_commit']}) {f(old, 0)} names/s, sparse tables with dense low orders "
                  f"{f(new, 0)} names/s ({f(new / old, 2)}×; the first sparse version was ~0.65×). "
                  f"Command: `{ns['command']}`.", ""]
    return L


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    ap.add_argument("--render", action="store_true", help="only rewrite BENCHMARKS.md from results.json")
    a = ap.parse_args()
    if not DATA.exists():
        raise SystemExit(f"benchmark data {DATA} is absent (set NAMESMITH_SHARED)")
    results = relative(json.loads(RESULTS.read_text())) if RESULTS.exists() else {}
    if not a.render:
        OUT.mkdir(exist_ok=True)
        names = a.only.split(",") if a.only else [k for k in SECTIONS if k not in PARTIAL]
        if not a.only:  # the run's date and machine; a section re-measured alone has its own date (and a
            results["machine"] = machine()  # "remeasured" note to add by hand), not the whole run's
            results["date"] = dt.date.today().isoformat()
        for name in names:
            SECTIONS[name](results)
            results = relative(results)
            RESULTS.write_text(json.dumps(results, indent=1))
    RESULTS.write_text(json.dumps(results, indent=1))
    (ROOT / "BENCHMARKS.md").write_text(render(results))
    print(f"wrote {ROOT / 'BENCHMARKS.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
