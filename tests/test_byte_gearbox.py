"""The byte gearbox (hw/byte_gearbox.py) in amaranth.sim: ByteGather assembles the payload
the golden packer gives for its bytes (padding bytes dropped), ByteScatter sends a payload's
bytes least significant first; random payloads, odd widths, seeded random stalls."""

import random

import pytest
from amaranth import signed
from amaranth.lib import data

from vitgates.golden.payload import pack
from vitgates.hw.byte_gearbox import ByteGather, ByteScatter, payload_bytes

from streams import Staller, run_testbenches, stream_get, stream_put

REC = data.StructLayout({"end": 1, "cls": range(5), "acc": signed(13)})


@pytest.mark.parametrize("shape, stride", [(8, None), (13, None), (13, 4), (REC, None),
                                           (REC, 8), (64, None)])
@pytest.mark.parametrize("p_in, p_out", [(0.0, 0.0), (0.4, 0.4)])
def test_gather(shape, stride, p_in, p_out):
    dut = ByteGather(shape, stride=stride)
    n, s = payload_bytes(shape), dut.stride
    width = data.Layout.cast(shape).size if isinstance(shape, data.Layout) else shape
    rng = random.Random(width * 7 + s)
    words = [rng.getrandbits(8 * n) for _ in range(40)]
    got = []

    async def producer(ctx):
        st = Staller(p_in, 1)
        for w in words:
            for b in w.to_bytes(n, "little") + bytes(rng.getrandbits(8) for _ in range(s - n)):
                await stream_put(ctx, dut.i, b, st)

    async def consumer(ctx):
        st = Staller(p_out, 2)
        for _ in words:
            p = await stream_get(ctx, dut.o, st)
            got.append(p.as_value().value if isinstance(p, data.Const) else p)

    run_testbenches(dut, producer, consumer)
    assert got == [w & ((1 << width) - 1) for w in words]


@pytest.mark.parametrize("copy", [False, True])
@pytest.mark.parametrize("p_in, p_out", [(0.0, 0.0), (0.5, 0.3)])
def test_scatter(p_in, p_out, copy):
    dut = ByteScatter(REC, copy=copy)
    rng = random.Random(3)
    recs = [{"end": rng.getrandbits(1), "cls": rng.randrange(5),
             "acc": rng.randrange(-4096, 4096)} for _ in range(50)]
    got = bytearray()

    async def producer(ctx):
        st = Staller(p_in, 1)
        for r in recs:
            await stream_put(ctx, dut.i, r, st)

    async def consumer(ctx):
        st = Staller(p_out, 2)
        for _ in range(len(recs) * payload_bytes(REC)):
            got.append(await stream_get(ctx, dut.o, st))

    run_testbenches(dut, producer, consumer)
    assert bytes(got) == b"".join(pack(REC, r).to_bytes(payload_bytes(REC), "little")
                                  for r in recs)
