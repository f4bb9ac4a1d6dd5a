"""Int8Classifier in amaranth.sim: P0 = W·x per pixel, exact, against the golden model."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from vitgates.golden.detector import Folding, hw_row_order, pack_weights, random_head
from vitgates.golden.detector_head import acc_bits
from vitgates.hw.int8_classifier import Int8Classifier

from streams import Staller, run_testbenches, stream_get, stream_put


def run_classifier(x, head, folding, p_in=0.0, p_out=0.0, seed=0):
    """x: [n_pixels, C] INT8. Returns [n_pixels, R] accumulators in hardware row order."""
    n, C = x.shape
    R = head.rows
    dut = Int8Classifier(channels=C, n_rows=R, folding=folding)
    P = folding.pixels
    out = np.zeros((n, R), np.int64)

    async def producer(ctx):
        addr, words = pack_weights(head, folding)
        for a, w in zip(addr.tolist(), words.tolist(), strict=True):
            await stream_put(ctx, dut.w_write, {"addr": a, "data": w})
        st = Staller(p_in, seed)
        for row in x.reshape(-1, folding.lanes).tolist():
            await stream_put(ctx, dut.i, row, st)

    async def consumer(ctx):
        st = Staller(p_out, seed + 1)
        for g in range(n // P):
            for r in range(R):
                v = await stream_get(ctx, dut.o, st)
                for p in range(P):
                    out[g * P + p, r] = int(v[p])

    run_testbenches(dut, producer, consumer)
    return out


@pytest.mark.parametrize("C, K, B, folding, p_in, p_out, kind", [
    (16, 6, 4, Folding(2, 4, 2), 0.0, 0.0, "random"),
    (16, 5, 0, Folding(1, 3, 4), 0.4, 0.4, "saturated"),
    (32, 7, 4, Folding(4, 5, 8), 0.2, 0.7, "random"),
    (8, 3, 4, Folding(2, 8, 1), 0.5, 0.0, "saturated"),
])
def test_classifier_matches_golden(C, K, B, folding, p_in, p_out, kind):
    rng = np.random.default_rng(C + K)
    n = 4 * folding.pixels
    if kind == "saturated":
        x = rng.choice(np.array([-128, 127], np.int8), (n, C))
        head = random_head(C, K, B, seed=C, weights="extreme")
        x[0] = -128  # all-extreme pixel: the largest accumulator, 128·128·C
        head.weight[hw_row_order(K, B)[0]] = -128
    else:
        x = rng.integers(-128, 128, (n, C)).astype(np.int8)
        head = random_head(C, K, B, seed=C)
    got = run_classifier(x, head, folding, p_in, p_out, seed=K)
    want = x.astype(np.int64) @ head.weight[hw_row_order(K, B)].astype(np.int64).T
    assert np.array_equal(got, want), np.argwhere(got != want)[:5]
    if kind == "saturated":
        assert got[0, 0] == 128 * 128 * C
        assert -(1 << (acc_bits(C) - 1)) <= got.min() and got.max() < 1 << (acc_bits(C) - 1)


def test_weights_can_be_reloaded_between_frames():
    C, folding = 8, Folding(2, 4, 2)
    rng = np.random.default_rng(3)
    heads = [random_head(C, 4, 0, seed=s) for s in (1, 2)]
    x = rng.integers(-128, 128, (2, C)).astype(np.int8)
    for h in heads:
        got = run_classifier(x, h, folding)
        assert np.array_equal(got, x.astype(np.int64) @ h.weight.astype(np.int64).T)


def test_steady_state_is_one_weight_word_per_cycle():
    """With both sides always ready, groups leave every C/lanes · passes cycles."""
    C, R, folding = 16, 8, Folding(2, 4, 2)
    dut = Int8Classifier(channels=C, n_rows=R, folding=folding)
    firsts = []

    async def producer(ctx):
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, [1, 2])
        while True:
            await ctx.tick()

    async def consumer(ctx):
        ctx.set(dut.o.ready, 1)
        cycle, n = 0, 0
        while len(firsts) < 6:
            _, _, valid = await ctx.tick().sample(dut.o.valid)
            if valid:
                if n % R == 0:
                    firsts.append(cycle)
                n += 1
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    sim.run()
    gaps = {b - a for a, b in zip(firsts[2:], firsts[3:], strict=False)}
    assert gaps == {dut.cycles_per_group} == {C // 2 * 2}
