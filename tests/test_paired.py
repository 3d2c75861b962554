"""benchmarks/paired.py: the paired bootstrap that says how large a difference between two models is real."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

spec = importlib.util.spec_from_file_location("paired",
                                              Path(__file__).resolve().parents[1] / "benchmarks" / "paired.py")
paired = importlib.util.module_from_spec(spec)
spec.loader.exec_module(paired)


def test_a_constant_gain_per_character_has_no_spread():
    """B better by exactly 0.1 nats on every character: every paired resample says -0.1 (an unpaired
    bootstrap, resampling A and B apart, would spread it)."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(3, 12, size=200).astype(float)
    a = tokens * rng.uniform(1.5, 2.5, size=200)
    out = paired.paired_bootstrap(a, a - 0.1 * tokens, tokens, 500, np.random.default_rng(1))
    assert out["diff_se"] < 1e-12 and np.allclose(out["diff_95"], [-0.1, -0.1]) and out["b_better_share"] == 1.0
    assert out["a_se"] > 0.01  # one model alone does move with the draw of names


def test_the_spread_shrinks_with_the_square_root_of_the_names():
    rng = np.random.default_rng(0)
    se = []
    for n in (400, 1600):
        tokens = rng.integers(3, 12, size=n).astype(float)
        a = tokens * rng.uniform(1.5, 2.5, size=n)
        b = a + tokens * rng.normal(0, 0.2, size=n)
        se.append(paired.paired_bootstrap(a, b, tokens, 2000, np.random.default_rng(1))["diff_se"])
    assert 1.6 < se[0] / se[1] < 2.5  # sqrt(4) = 2


def test_names_one_model_cannot_score_are_left_out_of_both():
    tokens = np.array([4.0, 5.0, 6.0, 7.0])
    a = np.array([8.0, 10.0, 12.0, 14.0])  # 2 nats per prediction
    b = np.array([4.0, np.nan, 6.0, 7.0])  # 1 nat per prediction; name 2 holds a character B never saw
    out = paired.paired(a, b, tokens, reps=200)
    assert out["names"] == 3 and out["a_nll"] == 2.0 and out["b_nll"] == 1.0 and out["diff"] == -1.0
    assert np.isfinite(out["diff_se"])
    with pytest.raises(ValueError, match="no test name"):
        paired.paired(a, np.full(4, np.nan), tokens)
