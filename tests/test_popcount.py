"""PopcountClassifier against ref_popcount in amaranth.sim."""

import numpy as np
import pytest

from vitgates.golden.person import ref_popcount
from vitgates.hw.popcount import PopcountClassifier
from vitgates.sim.vectors import person_vectors

from conftest import random_person_config
from person_sim import run_stream

CONFIGS = {
    "random": lambda: random_person_config(2),
    "extreme-thresholds": lambda: random_person_config(
        3, thresholds=[-128, 127, -127, 126] * 10, K=20),
    "K=0": lambda: random_person_config(4, K=0),
    "K=40": lambda: random_person_config(5, K=40),
}


@pytest.mark.parametrize("pipeline", [1, 2, 3])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_matches_golden(config, pipeline):
    cfg = CONFIGS[config]()
    x = person_vectors(cfg, 600, seed=pipeline)
    got = run_stream(PopcountClassifier(cfg, pipeline=pipeline), [list(map(int, r)) for r in x],
                     len(x), seed=pipeline)
    np.testing.assert_array_equal(np.array(got), ref_popcount(x, cfg).astype(int))


def test_latency_and_throughput():
    # one decision per cycle once full; the first after `pipeline` cycles
    from amaranth.sim import Simulator

    cfg = random_person_config(6)
    dut = PopcountClassifier(cfg, pipeline=3)
    x = person_vectors(cfg, 20, seed=1)
    seen = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for cycle, row in enumerate(list(x) + [x[0]] * 4):
            ctx.set(dut.i.payload, list(map(int, row)))
            if cycle == len(x):
                ctx.set(dut.i.valid, 0)
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload)
            assert ready
            if valid:
                seen.append((cycle, payload))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert [c for c, _ in seen] == list(range(3, 3 + len(x)))
    assert [p for _, p in seen] == list(ref_popcount(x, cfg).astype(int))
