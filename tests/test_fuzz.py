"""The fast part of the fault-injection harness (benchmarks/fuzz.py) in the suite: a seeded sample of its cases.

The whole run (about 4,400 cases, RELIABILITY.md) takes minutes; here 25 cases of each of five classes run
in forked children, judged by the same rules: no traceback, no hang, no fixture changed or temp file left,
an allowed exit code, bounded memory. A new failure mode found by the full run becomes a test of its own.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("fuzz", Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz.py")
fuzz = importlib.util.module_from_spec(spec)
sys.modules["fuzz"] = fuzz  # dataclasses look the module up while the file runs
spec.loader.exec_module(fuzz)

CLASSES = ["cli options", "corpora", "outputs", "checkpoints", "api"]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz") / "fx"
    d.mkdir()
    fuzz.build_fixtures(d)
    return d


@pytest.mark.parametrize("cls", CLASSES)
def test_a_sample_of_the_fault_injection_cases_passes(fixtures, cls):
    fuzz._init(str(fixtures), [cls], 25, seed=1)
    results = [fuzz.run_one(i) for i in range(len(fuzz._CASES))]
    failed = [f"{r.case.name}: {r.failures} {r.detail[:300]}" for r in results if r.failures]
    assert len(results) == 25 and not failed, failed


def test_the_judge_catches_what_it_is_for(fixtures, tmp_path):
    """The harness itself: a traceback, a wrong exit code and a changed fixture are each reported."""
    ws = tmp_path / "ws"
    import shutil

    shutil.copytree(fixtures, ws)
    before = fuzz.snapshot(ws)
    case = fuzz.Case("x", "x", argv=["sample", "m.npz"], expect=frozenset({2}))
    assert fuzz.judge(case, 0, "", "", before, ws, 0.1, 10, 2048).failures == ["exit"]
    assert "traceback" in fuzz.judge(case, 2, "", "Traceback (most recent call last):", before, ws, 0.1, 10,
                                     2048).failures
    (ws / "notes.txt").write_text("changed")
    assert "file" in fuzz.judge(case, 2, "", "namesmith: error: x", before, ws, 0.1, 10, 2048).failures
    assert fuzz.judge(case, None, "", "", before, ws, 0.1, 10, 2048).failures[0] == "hang"
