"""The gate-network builder: comparators exhaustively, adders on random columns."""

import random

import pytest
from amaranth import Const, Module, Signal, signed
from amaranth.sim import Simulator

from vitgates.golden.gate_cost import comparator_cost
from vitgates.hw.gates import Gates


def _evaluate(build, inputs, width):
    """Simulate a network ``build(gates, x_bits) -> outputs`` on every value in ``inputs``."""
    m = Module()
    x = Signal(width)
    g = Gates()
    outs = build(g, g.input(x))
    y = g.emit_vector(m, outs)
    got = []

    async def bench(ctx):
        for v in inputs:
            ctx.set(x, v)
            got.append(ctx.get(y))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return got, len(outs)


def test_comparators_exhaustive():
    thresholds = list(range(-128, 128))

    def build(g, xb):
        return [b for t in thresholds for b in (g.gt_const(xb, t), g.lt_const(xb, t))]

    got, n = _evaluate(build, range(256), 8)
    for u, word in zip(range(256), got, strict=True):
        x = u - 256 if u >= 128 else u
        for j, t in enumerate(thresholds):
            assert (word >> (2 * j)) & 1 == (x > t), (x, t, ">")
            assert (word >> (2 * j + 1)) & 1 == (x < t), (x, t, "<")


def test_unsigned_comparator_exhaustive():
    def build(g, xb):
        return [g.gt_const(xb, c, signed=False) for c in range(-1, 65)]

    got, _ = _evaluate(build, range(64), 6)
    for u, word in zip(range(64), got, strict=True):
        for j, c in enumerate(range(-1, 65)):
            assert (word >> j) & 1 == (u > c), (u, c)


def test_comparator_cost_matches_network():
    # the cost model and the gates actually built agree for every threshold
    for t in range(-128, 128):
        for positive in (True, False):
            g = Gates()
            xb = g.input(Signal(signed(8)))
            out = g.gt_const(xb, t) if positive else g.lt_const(xb, t)
            built = sum(1 for n in g.nodes if n.op != "in")
            assert built == comparator_cost(t, positive=positive), (t, positive)
            if built == 0:  # a constant, or an input bit as it is (x < 0 is the sign)
                assert isinstance(out, int) or out.op == "in"


@pytest.mark.parametrize("rows", [1, 2])
def test_compress_keeps_the_value(rows):
    rng = random.Random(rows)
    weights = [0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 5]
    n = len(weights)

    def build(g, xb):
        cols = {}
        for w, b in zip(weights, xb, strict=True):
            cols.setdefault(w, []).append(b)
        cols.setdefault(2, []).extend([1, 1, 1])  # constant ones are folded
        out = g.compress(cols, rows=rows)
        assert all(len(v) <= rows for v in out.values())
        flat = [(w, b) for w, bits in out.items() for b in bits]
        build.weights = [w for w, _ in flat]
        return [b for _, b in flat]

    inputs = [rng.randrange(1 << n) for _ in range(300)]
    got, _ = _evaluate(build, inputs, n)
    for v, word in zip(inputs, got, strict=True):
        want = sum(((v >> i) & 1) << w for i, w in enumerate(weights)) + 3 * 4
        have = sum(((word >> j) & 1) << w for j, w in enumerate(build.weights))
        assert have == want


def test_sum_msb():
    rng = random.Random(3)
    width = 6

    def build(g, xb):
        cols = {0: xb[:5], 1: xb[5:9], 3: xb[9:12], 5: [xb[12], 1]}
        return [g.sum_msb(cols, width)]

    inputs = [rng.randrange(1 << 13) for _ in range(500)]
    got, _ = _evaluate(build, inputs, 13)
    for v, y in zip(inputs, got, strict=True):
        b = [(v >> i) & 1 for i in range(13)]
        total = sum(b[:5]) + 2 * sum(b[5:9]) + 8 * sum(b[9:12]) + 32 * (b[12] + 1)
        assert y == (total % 64) >> 5


def test_pipeline_cuts_balance_every_path():
    # a network cut into stages delays every output by exactly stages - 1 cycles
    m = Module()
    x = Signal(8)
    g = Gates()
    xb = g.input(x)
    outs = [g.gt_const(xb, 17), xb[3], g.xor(xb[0], g.and_(xb[1], xb[2])), 1]
    en = Const(1)
    y = g.emit_vector(m, outs, stages=3, en=en)
    seq = [random.Random(5).randrange(256) for _ in range(50)]
    got = []

    async def bench(ctx):
        for v in seq + [0, 0]:
            ctx.set(x, v)
            got.append(ctx.get(y))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for k, v in enumerate(seq):
        s = v - 256 if v >= 128 else v
        want = (s > 17) | ((v >> 3) & 1) << 1 | ((v & 1) ^ ((v >> 1) & (v >> 2) & 1)) << 2 | 8
        assert got[k + 2] == want, k
