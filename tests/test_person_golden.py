"""The golden integer person models and the float -> integer conversion."""

import math

import numpy as np
import pytest

from vitgates.fpga.person_design import default_person_config
from vitgates.golden import person
from vitgates.golden.quant import dequantize, quantize

from conftest import random_person_config


def test_quantize_rounds_half_even_and_saturates():
    q = quantize([0.5, 1.5, 2.5, -0.5, -1.5, 300.0, -300.0, 126.6], 1.0)
    assert q.tolist() == [0, 2, 2, 0, -2, 127, -128, 127]
    assert q.dtype == np.int8
    with pytest.raises(ValueError):
        quantize([1.0], 0.0)


def test_models_on_hand_made_vectors():
    cfg = random_person_config(0, thresholds=[0] * 40, K=21, T=0)
    x = np.zeros((3, 40), np.int8)
    x[1, :20] = 1  # s = 20 > 0; 20 positive bits, 20 negative bits off -> popcount 20
    x[2, 20:] = -1  # s = 20; popcount 20 (negative dims below 0)
    assert person.sumdiff_score(x).tolist() == [0, 20, 20]
    assert person.ref_sumdiff(x, cfg).tolist() == [False, True, True]
    assert person.popcount_bits(x, cfg).sum(1).tolist() == [0, 20, 20]
    assert person.ref_popcount(x, cfg).tolist() == [False, False, False]


def test_sumdiff_extremes_are_exact():
    x = np.concatenate([np.full((1, 20), 127), np.full((1, 20), -128)], 1).astype(np.int8)
    assert person.sumdiff_score(x)[0] == 20 * 127 + 20 * 128
    assert person.sumdiff_score(-1 - x.astype(np.int16))[0] == -(20 * 128 + 20 * 127)


def test_derived_config_reproduces_the_float_rule_exactly():
    # On dequantised features the integer decisions equal the float rule, decision for
    # decision (the point of T = floor(theta / scale)). Thresholds sit off the grid of
    # multiples of the scale, where float summation order cannot matter.
    rng = np.random.default_rng(1)
    cfg0 = random_person_config(1)
    scale = 0.0371
    q = rng.integers(-128, 128, (4000, 768)).astype(np.int8)
    f = dequantize(q, scale)
    for theta in (-3.3, 0.4 * scale, 0.9 * scale, 2.5, 17.5 * scale):
        tau = list(rng.normal(0, 1.5, 40))
        cfg = person.derive_config(cfg0.pos_dims, cfg0.neg_dims, theta, scale, tau, 20)
        x40 = person.select(q, cfg)
        want = person.float_sumdiff(f, cfg.pos_dims, cfg.neg_dims, theta)
        np.testing.assert_array_equal(person.ref_sumdiff(x40, cfg), want)
        fd = f[:, list(cfg.dims)]
        fbits = np.concatenate([fd[:, :20] > tau[:20], fd[:, 20:] < tau[20:]], 1)
        np.testing.assert_array_equal(person.popcount_bits(x40, cfg), fbits)


def test_threshold_on_the_grid_in_exact_arithmetic():
    # theta exactly k * scale: s > T must mean s * scale > theta in exact arithmetic
    from fractions import Fraction

    scale = 0.03125  # a power of two: k * scale is exact in binary floating point
    for k in (-7, 0, 13):
        theta = k * scale
        cfg = person.derive_config(range(20), range(20, 40), theta, scale, [0.0] * 40, 1)
        for s_val in (k - 1, k, k + 1):
            assert (s_val > cfg.T) == (Fraction(s_val) * Fraction(scale) > Fraction(theta))


def test_fit_popcount_trades_gates_for_f1():
    from vitgates.golden.gate_cost import comparator_cost

    rng = np.random.default_rng(2)
    y = rng.random(3000) < 0.5
    x = rng.normal(0, 25, (3000, 40))
    x[y, :20] += 12
    x[y, 20:] -= 12
    x = np.clip(x.round(), -128, 127).astype(np.int8)

    def cost(t):
        return sum(comparator_cost(v, positive=i < 20) for i, v in enumerate(t))

    t0, k0 = person.fit_popcount(x, y, gate_weight=0)
    t1, k1 = person.fit_popcount(x, y, gate_weight=3e-4)
    cfg0 = random_person_config(0, thresholds=t0, K=k0)
    cfg1 = random_person_config(0, thresholds=t1, K=k1)
    f0 = person._f1(person.ref_popcount(x, cfg0), y)
    f1 = person._f1(person.ref_popcount(x, cfg1), y)
    assert f0 > 0.9
    assert cost(t1) < cost(t0)
    assert f1 > f0 - 0.03


def test_shipped_config_is_what_the_fit_produces():
    shipped = default_person_config()
    fresh = person.fit_synthetic_config()
    assert fresh == shipped
    assert fresh.source == shipped.source
    assert math.isclose(shipped.source["f1_float"], 0.8948, abs_tol=0.02)
