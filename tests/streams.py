"""amaranth.sim helpers for stream ports, with seeded random stalls."""

import random

from amaranth.sim import Simulator

__all__ = ["stream_put", "stream_get", "Staller", "run_testbenches"]


class Staller:
    """Seeded source of idle cycles: ``await staller.idle(ctx)`` waits 0..n cycles."""

    def __init__(self, probability: float = 0.0, seed: int = 0):
        self.p = probability
        self.rng = random.Random(seed)

    async def idle(self, ctx):
        while self.p and self.rng.random() < self.p:
            await ctx.tick()


async def stream_put(ctx, stream, payload, staller: Staller | None = None):
    """Offer ``payload`` on ``stream`` (valid held until ready) and wait for the transfer."""
    if staller:
        await staller.idle(ctx)
    ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream, staller: Staller | None = None):
    """Accept one transfer from ``stream`` and return its payload."""
    if staller:
        await staller.idle(ctx)
    ctx.set(stream.ready, 1)
    (payload,) = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


def run_testbenches(dut, *testbenches, period: float = 1e-8):
    """Simulate ``dut`` on one clock of ``period`` seconds until every testbench returns."""
    sim = Simulator(dut)
    sim.add_clock(period)
    for tb in testbenches:
        sim.add_testbench(tb)
    sim.run()
