"""The detector's small parts in amaranth.sim: SkidBuffer, StreamRegister, SinglePortRAM,
DualMul8 (generic; the SB_MAC16 form against yosys's cell model in
tests/test_detector_cocotb.py)."""

import random

import pytest
from amaranth import signed
from amaranth.sim import Simulator

from vitgates.hw.detector_profile import MemoryKind, MultiplierKind
from vitgates.hw.dual_mul8 import DualMul8
from vitgates.hw.single_port_ram import SinglePortRAM
from vitgates.hw.stream import SkidBuffer, StreamRegister

from streams import Staller, run_testbenches, stream_get, stream_put


@pytest.mark.parametrize("cls", [SkidBuffer, StreamRegister])
@pytest.mark.parametrize("p_in, p_out", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.3, 0.6)])
def test_stream_stage_passes_everything_in_order(cls, p_in, p_out):
    dut = cls(signed(12))
    data = [random.Random(7).randrange(-2048, 2048) for _ in range(200)]
    data = [(v * 37 + n) % 4096 - 2048 for n, v in enumerate(data)]
    got = []

    async def producer(ctx):
        st = Staller(p_in, 1)
        for v in data:
            await stream_put(ctx, dut.i, v, st)

    async def consumer(ctx):
        st = Staller(p_out, 2)
        for _ in data:
            got.append(await stream_get(ctx, dut.o, st))

    run_testbenches(dut, producer, consumer)
    assert got == data


def test_skid_buffer_full_rate_and_registered_ready():
    dut = SkidBuffer(8)
    got = []

    async def bench(ctx):
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.o.ready, 1)
        for n in range(20):
            ctx.set(dut.i.payload, n)
            _, _, ready, valid, payload = await ctx.tick().sample(dut.i.ready, dut.o.valid,
                                                                   dut.o.payload)
            assert ready  # never drops while the output is always taken
            if valid:
                got.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == list(range(len(got))) and len(got) == 19  # latency 1, one per cycle


def test_single_port_ram_generic():
    dut = SinglePortRAM(width=32, depth=64)

    async def bench(ctx):
        for a in range(64):
            ctx.set(dut.we, 1)
            ctx.set(dut.addr, a)
            ctx.set(dut.wdata, a * 0x01010101 ^ 0xA5A5A5A5)
            await ctx.tick()
        ctx.set(dut.we, 0)
        for a in (5, 63, 0, 17):
            ctx.set(dut.re, 1)
            ctx.set(dut.addr, a)
            await ctx.tick()
            ctx.set(dut.re, 0)
            ctx.set(dut.addr, 1)
            await ctx.tick()  # the output holds without a read
            assert ctx.get(dut.rdata) == a * 0x01010101 ^ 0xA5A5A5A5

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_single_port_ram_spram_limits():
    with pytest.raises(ValueError, match="SPRAM"):
        SinglePortRAM(width=24, depth=16, impl=MemoryKind.SPRAM)
    with pytest.raises(ValueError, match="impl"):
        SinglePortRAM(width=16, depth=16, impl="bram")


def test_dual_mul8_generic_every_extreme_and_random():
    dut = DualMul8(MultiplierKind.GENERIC)
    ext = [-128, -127, -1, 0, 1, 126, 127]
    rng = random.Random(3)
    pairs = [(a, b, c, d) for a in ext for b in ext for c, d in ((b, a), (a, a))]
    pairs += [tuple(rng.randrange(-128, 128) for _ in range(4)) for _ in range(200)]

    async def bench(ctx):
        ctx.set(dut.ce, 1)
        results = []
        for n in range(len(pairs) + 2):
            if n < len(pairs):
                a, b, c, d = pairs[n]
                ctx.set(dut.a_lo, a)
                ctx.set(dut.b_lo, b)
                ctx.set(dut.a_hi, c)
                ctx.set(dut.b_hi, d)
            await ctx.tick()
            if n >= 1:
                results.append((ctx.get(dut.p_lo), ctx.get(dut.p_hi)))
        # latency 2: the products of pair n are visible after edge n + 1 (edges from 0)
        assert results[:len(pairs)] == [(a * b, c * d) for a, b, c, d in pairs]
        # ce low holds the products
        ctx.set(dut.ce, 0)
        ctx.set(dut.a_lo, 5)
        await ctx.tick().repeat(3)
        assert (ctx.get(dut.p_lo), ctx.get(dut.p_hi)) == results[-1]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
