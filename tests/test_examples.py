"""Every shell and Python example of README.md and docs/ runs, so a wrong example fails CI.

The fenced ``sh``, ``python`` and ``js`` (Node.js, as an ES module) blocks of each file run in order in one scratch
folder that holds the files the examples name (``names.txt``, ``elves.txt``...).
What the examples leave to the reader's machine is adapted, never the command
itself: the install commands' ``pip install ... &&`` is dropped (CI has installed
the package) and ``pytest`` is not run from inside pytest; every training run
gets ``--time-limit`` (``time_limit=`` in Python; the seed recipe a few hundred
steps), so a two-minute preset takes seconds and still goes through every phase;
``namesmith serve`` runs until it says it is serving and then gets Ctrl-C; the
``curl`` lines go to a live server of the shipped ``world`` model, with
``--fail-with-body`` so an error status fails the example. Blocks in other
languages (``text``, none) are illustrations, not examples.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(sh|python|js)\n(.*?)^```", re.S | re.M)
TRAIN_SECONDS = 0.5
FILES = {  # what the examples read, written into the scratch folder
    "elves.txt": "\n".join(
        "aelar aerith althaea anariel arwen celeborn elrond eluned erevan faelyn galadriel haldir ilyana lirael "
        "luthien melian nimrodel rhiannon sylvari thranduil varda elenwe finrod idril legolas tauriel".split()) + "\n",
    "dwarves.txt": "\n".join(
        "balin dwalin fili kili dori nori ori oin gloin bifur bofur bombur thorin dain thrain thror gimli "
        "durin borin frerin fundin groin nain farin gror telchar narvi mim khim ibun".split()) + "\n",
}


def blocks(doc: Path) -> list[tuple[int, str, str]]:
    text = doc.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(1), m.group(2)) for m in BLOCK.finditer(text)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data_files(tmp_path_factory) -> dict[str, str]:
    from namesmith.corpus import load_corpus

    given = load_corpus("given-names").names
    world = load_corpus("world")
    files = dict(FILES)
    files["names.txt"] = "\n".join(given[::60]) + "\n"  # about 600 names
    files["my-dragons.txt"] = "\n".join(given[7::150]) + "\n"
    files["my-test-names.txt"] = files["test.txt"] = "\n".join(given[31::400]) + "\n"
    files["held-out.tsv"] = "".join(f"{n}\t{s}\n" for n, s in list(zip(world.names, world.labels))[::400])
    return files


def answers(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``namesmith serve world`` on a free port, for the curl examples."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "namesmith", "serve", "world", "--port", str(port),
                                 "--workers", "1"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not answers(port):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def shell_script(code: str, port: int | None) -> str:
    """The block as a bash script, adapted as the module docstring says."""
    lines = []
    for line in code.replace("\\\n", " ").splitlines():
        cmd = line.strip()
        if not cmd or cmd.startswith("#"):
            continue
        if re.match(r"pip install .*&& *pytest", cmd) or cmd.startswith("pytest"):
            continue  # the test command: CI runs it, not this test
        cmd = re.sub(r"^pip install [^&]*&& *", "", cmd)
        if re.search(r"\bnamesmith train\b", cmd):
            extra = "--steps 300 --log-every 100" if "--recipe seed" in cmd else f"--time-limit {TRAIN_SECONDS}"
            cmd = cmd.replace("namesmith train", f"namesmith train {extra} --no-progress", 1)
        if cmd.startswith("namesmith serve"):
            port_ = free_port()
            args = re.sub(r"\s+#.*$", "", cmd) + f" --port {port_} --workers 1"
            cmd = (f"{{ {args} > serve.log 2>&1 & pid=$!; for i in $(seq 300); do curl -sf -o /dev/null "
                   f"127.0.0.1:{port_}/healthz && break; kill -0 $pid || break; sleep 0.1; done; kill -INT $pid; "
                   "wait $pid; } || { cat serve.log; exit 1; }; grep -q 'serving .* at http' serve.log")
        if cmd.startswith("curl"):
            assert port is not None
            cmd = cmd.replace("curl ", "curl --fail-with-body --max-time 20 ", 1).replace(
                "localhost:8000", f"127.0.0.1:{port}")
            cmd += "; echo"
        lines.append(cmd)
    return "set -euo pipefail\n" + "\n".join(lines) + "\n"


PRELUDE = f"""
import namesmith
from namesmith import api as _api

def _quick_fit(*args, **kwargs):  # the examples' training runs, time-limited (tests/test_examples.py)
    kwargs.setdefault("time_limit", {TRAIN_SECONDS})
    return _api.fit(*args, **kwargs)

namesmith.fit = _quick_fit
"""


def command(lang: str, code: str, port: int | None) -> list[str]:
    if lang == "python":
        return [sys.executable, "-c", PRELUDE + code]
    if lang == "js":
        return ["node", "--input-type=module", "-e", code]
    return ["bash", "-c", shell_script(code, port)]


def prepare(folder: Path, files: dict[str, str]) -> dict[str, str]:
    """A scratch folder with the examples' files and a ``namesmith`` command; the environment to run in."""
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "my-styles").mkdir()
    for style in ("elves", "dwarves"):
        shutil.copy(folder / f"{style}.txt", folder / "my-styles")
    shim = folder / "bin"
    shim.mkdir()
    (shim / "namesmith").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m namesmith "$@"\n')
    (shim / "namesmith").chmod(0o755)
    return {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}",
            "NAMESMITH_CACHE": str(folder / "cache"), "PYTHONPATH": ""}


def units(doc: Path) -> list[list[tuple[int, str, str]]]:
    """The blocks of ``doc`` in independent runs: one per ``##`` section, a section joined to the ones before
    it when it uses a model file it does not make (the tour's ``model.npz`` comes from "Two commands")."""
    text = doc.read_text(encoding="utf-8")
    starts = [0] + [m.start() for m in re.finditer(r"^## ", text, re.M)] + [len(text)]
    found, out = blocks(doc), []
    for a, b in zip(starts, starts[1:]):
        first, last = text[:a].count("\n") + 1, text[:b].count("\n") + 1
        mine = [x for x in found if first <= x[0] < last]
        if not mine:
            continue
        code = "\n".join(c for _, _, c in mine)
        made = set(re.findall(r"(?:-o|out=)\s*\"?([\w.-]+\.npz)", code)) | (
            {"model.npz"} if re.search(r"namesmith train\s*($|#)", code, re.M) else set())
        used = set(re.findall(r"\b([\w-]+\.npz)\b", code)) - made
        if used and out:
            out[-1].extend(mine)
        else:
            out.append(mine)
    return out


def run_unit(doc: Path, unit, folder: Path, files: dict[str, str], port: int | None) -> str | None:
    """The blocks of one unit in order in ``folder``; the first failure as a message, or None."""
    env = prepare(folder, files)
    for line, lang, code in unit:
        where = f"{doc.relative_to(ROOT)}:{line}"
        if port is None and lang == "sh" and "curl " in code:
            continue  # no curl here (the test says so)
        if lang == "js" and shutil.which("node") is None:
            continue  # no Node.js here: the JavaScript examples are checked where it is (CI has it)
        try:
            proc = subprocess.run(command(lang, code, port), cwd=folder, env=env, capture_output=True, text=True,
                                  timeout=300)
        except subprocess.TimeoutExpired:
            return f"the example at {where} ran for over 300 s:\n{code}"
        if proc.returncode != 0 or "Traceback" in proc.stderr:
            return f"the example at {where} failed:\n{code}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return None


@pytest.fixture(scope="module")
def results(data_files, tmp_path_factory, request) -> dict[Path, str | None]:
    """Every document's examples, two independent units at a time (one per core: most of their time is
    start-up and one-threaded set-up)."""
    from concurrent.futures import ThreadPoolExecutor

    needs_server = any(lang == "sh" and "curl " in code for d in DOCS for _, lang, code in blocks(d))
    port = request.getfixturevalue("server") if needs_server and shutil.which("curl") else None
    root = tmp_path_factory.mktemp("examples")
    jobs = [(d, i, unit) for d in DOCS for i, unit in enumerate(units(d))]
    jobs.sort(key=lambda j: -len(j[2]))  # the longest first, so that the two workers end together
    with ThreadPoolExecutor(2) as pool:
        futures = [(d, pool.submit(run_unit, d, unit, root / f"{d.stem}-{i}", data_files, port))
                   for d, i, unit in jobs]
    failures: dict[Path, str | None] = {d: None for d in DOCS}
    for d, f in futures:
        failures[d] = failures[d] or f.result()
    return failures


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_runs(doc, results):
    found = blocks(doc)
    if not found:
        pytest.skip(f"{doc.name} has no sh or python examples")
    if any(lang == "sh" and "curl " in code for _, lang, code in found) and shutil.which("curl") is None:
        pytest.skip("the curl examples need curl (apt-get install curl)")
    failure = results[doc]
    assert failure is None, failure
