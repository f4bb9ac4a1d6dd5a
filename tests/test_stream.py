"""The stream FIFO (hw/stream.py) in amaranth.sim against a Python queue: random payloads,
seeded random stalls on both sides, every depth from one entry up, both FIFO kinds. The skid
buffer and the stream register of the same module are tested in tests/test_detector_parts.py
(and proved in tests/test_proofs.py)."""

import random
from collections import deque

import pytest
from amaranth import signed
from amaranth.lib import data
from amaranth.sim import Simulator

from vitgates.hw.stream import StreamFIFO

from streams import Staller, stream_get, stream_put

PAIR = data.StructLayout({"a": 5, "b": signed(7)})


def _values(shape, n, seed):
    rng = random.Random(seed)
    if shape is PAIR:
        return [{"a": rng.randrange(32), "b": rng.randrange(-64, 64)} for _ in range(n)]
    return [rng.randrange(1 << shape) for _ in range(n)]


def _plain(payload):
    """A sampled payload as the producer wrote it (a layout's constant as a dict)."""
    if isinstance(payload, data.Const):
        return {"a": int(payload.a), "b": int(payload.b)}
    return payload


@pytest.mark.parametrize("buffered", [False, True])
@pytest.mark.parametrize("depth", [1, 2, 5, 8])
@pytest.mark.parametrize("shape", [8, PAIR], ids=["int8", "layout"])
@pytest.mark.parametrize("p_in, p_out", [(0.0, 0.0), (0.5, 0.1), (0.1, 0.6), (0.4, 0.4)])
def test_stream_fifo_against_a_queue(buffered, depth, shape, p_in, p_out):
    dut = StreamFIFO(shape, depth, buffered=buffered)
    assert dut.depth == depth
    sent = _values(shape, 300, seed=depth)
    got = []
    model = deque()
    seen = {"full": 0, "empty_out": 0}

    async def producer(ctx):
        st = Staller(p_in, seed=depth + 1)
        for v in sent:
            await stream_put(ctx, dut.i, v, st)

    async def consumer(ctx):
        st = Staller(p_out, seed=depth + 2)
        for _ in sent:
            got.append(_plain(await stream_get(ctx, dut.o, st)))

    async def monitor(ctx):
        """Every cycle: ``o`` shows the queue's head, ``level`` is its length, ``i.ready``
        is room, and both sides' transfers move the queue."""
        sample = (dut.i.valid, dut.i.ready, dut.i.payload, dut.o.valid, dut.o.ready,
                  dut.o.payload, dut.level)
        async for _, _, iv, ir, ip, ov, orr, op, level in ctx.tick().sample(*sample):
            assert level == len(model) <= depth
            if not buffered:
                assert ir == (level < depth)
            if not ir:
                seen["full"] += 1
            if ov:
                assert model and _plain(op) == model[0]
                if orr:
                    model.popleft()
            elif model:
                seen["empty_out"] += 1  # written, not yet shown (latency)
            if iv and ir:
                model.append(_plain(ip))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(monitor, background=True)
    sim.run()
    assert got == sent
    assert not model
    if p_out > p_in:
        assert seen["full"], "the consumer's stalls never filled the FIFO"
