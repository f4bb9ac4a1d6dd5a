"""UART receiver and transmitter (amaranth.sim): exact bit timing, rate tolerance, framing
errors, back-pressure."""

import random

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from vitgates.hw.uart_rx import UARTReceiver, baud_increment
from vitgates.hw.uart_tx import UARTTransmitter

from streams import stream_get, stream_put

CLK = 48_000_000
BAUD = 3_000_000
BIT = CLK // BAUD  # 16 cycles a bit
PERIOD = 1 / CLK


def test_baud_increment_errors():
    with pytest.raises(ValueError, match="too slow"):
        baud_increment(10e6, 3e6)
    assert baud_increment(48e6, 3e6) == 4096
    # 100 MHz gives 33.3 cycles a bit: rounded within the accumulator's precision
    inc = baud_increment(100e6, 3e6)
    assert abs(inc * 100e6 / 2**16 - 3e6) / 3e6 < 2e-3


def _bits(byte, stop=1):
    return [0] + [byte >> k & 1 for k in range(8)] + [stop]


def test_transmitter_timing():
    """Start bit, 8 data bits LSB first, stop bit: each exactly 16 cycles, back to back."""
    dut = UARTTransmitter(clk_hz=CLK, baud=BAUD)
    data = [0x00, 0xFF, 0xA5, 0x3C, 0x01]
    line = []

    async def producer(ctx):
        for b in data:
            await stream_put(ctx, dut.i, b)

    async def probe(ctx):
        async for _clk, _rst, tx in ctx.tick().sample(dut.tx):
            line.append(tx)

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(producer)
    sim.add_process(probe)
    sim.run_until(PERIOD * (len(data) * 10 * BIT + 40))
    start = line.index(0)
    want = [bit for b in data for bit in _bits(b) for _ in range(BIT)]
    assert line[start:start + len(want)] == want
    assert all(line[start + len(want):])  # idle high afterwards




@pytest.mark.parametrize("rate_error", [-0.03, 0.0, 0.03])
def test_receiver_rate_tolerance(rate_error):
    """Bytes sent 3 % too fast or too slow, back to back, all arrive."""
    dut = UARTReceiver(clk_hz=CLK, baud=BAUD)
    rng = random.Random(3)
    data = [rng.getrandbits(8) for _ in range(24)] + [0x00, 0xFF]
    per_bit = BIT / (1 + rate_error)
    levels = []
    t = 0.0
    for b in data:
        for bit in _bits(b):
            t += per_bit
            levels += [bit] * (round(t) - len(levels))
    got = []

    async def line(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(5)
        for v in levels:
            ctx.set(dut.rx, v)
            await ctx.tick()
        ctx.set(dut.rx, 1)

    async def consumer(ctx):
        while len(got) < len(data):
            got.append(await stream_get(ctx, dut.o))

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(line, background=True)
    sim.add_testbench(consumer)
    sim.run_until(PERIOD * (len(levels) + 200))
    assert got == data


def test_receiver_framing_error_and_glitch():
    """A byte without its stop bit is dropped and flagged; a short glitch is no start bit;
    the next byte arrives normally."""
    dut = UARTReceiver(clk_hz=CLK, baud=BAUD)
    got = []
    errors = []

    async def line(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(5)
        for bit in _bits(0x55, stop=0):  # no stop bit, then the line stays low a while
            ctx.set(dut.rx, bit)
            await ctx.tick().repeat(BIT)
        await ctx.tick().repeat(3 * BIT)
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3 * BIT)
        ctx.set(dut.rx, 0)  # a glitch of a quarter bit
        await ctx.tick().repeat(BIT // 4)
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3 * BIT)
        for bit in _bits(0xC3):
            ctx.set(dut.rx, bit)
            await ctx.tick().repeat(BIT)
        ctx.set(dut.rx, 1)

    async def consumer(ctx):
        got.append(await stream_get(ctx, dut.o))

    async def flags(ctx):
        async for _clk, _rst, fe in ctx.tick().sample(dut.framing_error):
            if fe:
                errors.append(fe)

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(line)
    sim.add_process(flags)
    sim.add_testbench(consumer)
    sim.run()
    assert got == [0xC3]
    assert errors == [1]


@pytest.mark.parametrize("clk_hz", [48_000_000, 100_000_000, 12_000_000])
def test_loopback(clk_hz):
    """Transmitter into receiver with random pauses on both sides, at the board clocks."""
    m = Module()
    m.submodules.tx = tx = UARTTransmitter(clk_hz=clk_hz, baud=BAUD)
    m.submodules.rx = rx = UARTReceiver(clk_hz=clk_hz, baud=BAUD)
    m.d.comb += rx.rx.eq(tx.tx)
    rng = random.Random(clk_hz)
    data = [rng.getrandbits(8) for _ in range(20)]
    got = []

    async def producer(ctx):
        for b in data:
            if gap := rng.randrange(3) * 50:
                await ctx.tick().repeat(gap)
            await stream_put(ctx, tx.i, b)

    async def consumer(ctx):
        while len(got) < len(data):
            got.append(await stream_get(ctx, rx.o))

    sim = Simulator(m)
    sim.add_clock(1 / clk_hz)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    assert got == data
