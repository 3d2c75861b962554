"""Each optimizer's first steps against updates computed by hand; clipping; schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from namesmith.errors import ConfigError
from namesmith.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Momentum,
    clip_by_global_norm,
    clip_by_value,
    lr_at,
    make_optimizer,
)


def run(opt, grads_seq, p0=1.0, lr=0.1):
    params = {"w": np.array([p0])}
    out = []
    for g in grads_seq:
        opt.step(params, {"w": np.array([g])}, lr)
        out.append(float(params["w"][0]))
    return out


def test_sgd():
    assert run(SGD(), [0.5, -1.0]) == pytest.approx([0.95, 1.05])


def test_sgd_weight_decay():
    # g + wd*p = 0.5 + 0.1*1 = 0.6 -> 1 - 0.06
    assert run(SGD(weight_decay=0.1), [0.5]) == pytest.approx([0.94])


def test_momentum():
    # v1 = 0.5 -> p = 1 - 0.05; v2 = 0.9*0.5 + 1.0 = 1.45 -> p = 0.95 - 0.145
    assert run(Momentum(momentum=0.9), [0.5, 1.0]) == pytest.approx([0.95, 0.805])


def test_nesterov():
    # v1 = 0.5; step = g + mu v = 0.5 + 0.45 = 0.95 -> p = 1 - 0.095
    assert run(Momentum(momentum=0.9, nesterov=True), [0.5]) == pytest.approx([0.905])


def test_adagrad():
    # m1 = 0.25: p = 1 - 0.1*0.5/0.5 = 0.9; m2 = 0.25 + 1 = 1.25: p = 0.9 - 0.1*1/sqrt(1.25)
    assert run(Adagrad(eps=0.0), [0.5, 1.0]) == pytest.approx([0.9, 0.9 - 0.1 / math.sqrt(1.25)])


def test_adam_first_steps():
    b1, b2, eps, lr = 0.9, 0.99, 1e-8, 0.1
    m = v = 0.0
    p = 1.0
    expected = []
    for t, g in enumerate([0.5, -0.2, 0.3], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p -= lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        expected.append(p)
    assert run(Adam(betas=(b1, b2), eps=eps), [0.5, -0.2, 0.3], lr=lr) == pytest.approx(expected, rel=1e-12)
    # the very first Adam step moves each weight by ~lr whatever the gradient's scale
    assert run(Adam(), [1e-3])[0] == pytest.approx(0.9, rel=1e-4)


def test_adam_l2_vs_adamw_decoupled():
    # Adam: g' = 0.5 + 0.1*1 = 0.6; first step moves by lr*sign -> 0.9
    assert run(Adam(weight_decay=0.1), [0.5]) == pytest.approx([0.9], rel=1e-6)
    # AdamW: p *= 1 - lr*wd first (0.99), then the Adam step of -0.1 -> 0.89
    assert run(AdamW(weight_decay=0.1), [0.5]) == pytest.approx([0.89], rel=1e-6)


def test_state_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 2)) for _ in range(6)]
    for name in ("momentum", "adagrad", "adam", "adamw"):
        a = make_optimizer(name)
        pa = {"w": np.ones((3, 2))}
        for g in grads:
            a.step(pa, {"w": g}, 0.01)
        b = make_optimizer(name)
        pb = {"w": np.ones((3, 2))}
        for g in grads[:3]:
            b.step(pb, {"w": g}, 0.01)
        c = make_optimizer(name)
        c.load_state(b.state_meta(), b.state_arrays(), pb)
        for g in grads[3:]:
            c.step(pb, {"w": g}, 0.01)
        assert np.array_equal(pa["w"], pb["w"]), name


def test_unknown_optimizer():
    with pytest.raises(ConfigError, match="adamw"):
        make_optimizer("rmsprop")


def test_clip_by_value_is_elementwise():
    g = {"a": np.array([-7.0, 2.0, 9.0])}
    clip_by_value(g, 5.0)
    assert list(g["a"]) == [-5.0, 2.0, 5.0]


def test_clip_by_global_norm():
    g = {"a": np.array([3.0]), "b": np.array([4.0])}
    norm = clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(5.0)
    assert math.hypot(g["a"][0], g["b"][0]) == pytest.approx(1.0)
    assert g["a"][0] / g["b"][0] == pytest.approx(0.75)
    small = {"a": np.array([0.3])}
    clip_by_global_norm(small, 1.0)
    assert small["a"][0] == 0.3


def test_schedules():
    assert lr_at(123, 0.1) == 0.1
    assert lr_at(2500, 0.1, schedule="step", decay_every=1000, gamma=0.5) == pytest.approx(0.025)
    assert lr_at(0, 0.1, schedule="cosine", total_steps=100) == pytest.approx(0.1)
    assert lr_at(50, 0.1, schedule="cosine", total_steps=100) == pytest.approx(0.05)
    assert lr_at(100, 0.1, schedule="cosine", total_steps=100, min_lr=0.01) == pytest.approx(0.01)
    assert lr_at(25, 0.1, schedule="linear", total_steps=100) == pytest.approx(0.075)
    # warm-up ramps linearly, then the schedule starts from the top
    assert [lr_at(s, 0.1, warmup=4) for s in range(5)] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])
    assert lr_at(4, 0.1, schedule="cosine", total_steps=104, warmup=4) == pytest.approx(0.1)
    assert lr_at(3, 0.1, schedule="cosine", frac=0.5) == pytest.approx(0.05)
    with pytest.raises(ConfigError):
        lr_at(0, 0.1, schedule="cosine")
    with pytest.raises(ConfigError):
        lr_at(0, 0.1, schedule="bogus")


def test_weight_average_flat_and_per_parameter_agree_with_the_formula():
    """ema_t = d_t ema_{t-1} + (1 - d_t) p_t with d_t = min(decay, (1 + t) / (10 + t)), from ema_0 = p_0."""
    from namesmith.optim import Adam

    rng = np.random.default_rng(0)
    start = {"a": rng.normal(size=(3, 2)), "b": rng.normal(size=4)}
    grads = [{k: rng.normal(size=v.shape) for k, v in start.items()} for _ in range(5)]
    runs = []
    for flat in (True, False):
        params = {k: v.copy() for k, v in start.items()}
        opt = Adam().average(0.8)
        if flat:
            opt.bind(params)
        expected = {k: v.copy() for k, v in params.items()}
        for t, g in enumerate(grads, start=1):
            opt.step(params, g, 0.1)
            d = min(0.8, (1 + t) / (10 + t))
            expected = {k: d * expected[k] + (1 - d) * params[k] for k in params}
        for k in params:
            np.testing.assert_allclose(opt.state["ema"][k], expected[k], rtol=1e-12)
        with opt.averaged(params):
            inside = {k: v.copy() for k, v in params.items()}
        runs.append((inside, {k: v.copy() for k, v in params.items()}))
        for k in params:
            np.testing.assert_array_equal(inside[k], opt.state["ema"][k])  # the average inside the block
            assert not np.array_equal(params[k], inside[k])  # the trained weights back after it
    for k in start:
        np.testing.assert_allclose(runs[0][0][k], runs[1][0][k], rtol=1e-12)
