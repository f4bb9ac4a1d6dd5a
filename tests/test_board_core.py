"""BoardCore (deframer, link controller, status counters, framer, person classifier) in
amaranth.sim against the golden LinkModel: every reply packet byte for byte."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from vitgates.fpga.designs import PERSON_PIPELINE, default_person_config
from vitgates.golden.link import (
    COUNTERS,
    Deframer,
    Error,
    LinkModel,
    Type,
    encode_frame,
    parse_info,
    parse_status,
)
from vitgates.hw.board_core import BoardCore

from conftest import random_person_config

TIMEOUT = 200
SILENCE = None


def run_core(core, chunks, *, gap=(1, 4), pause_out=0.2, seed=0):
    """Send ``chunks`` (bytes, or SILENCE) a byte every ``gap`` cycles, with at most one
    chunk's replies outstanding (the host's window), and return the reply packets."""
    model = LinkModel(None, info=core.info)
    expected = []  # replies expected after each chunk, cumulative
    n = 0
    for c in chunks:
        n += len(model.idle() if c is SILENCE else model.feed(c))
        expected.append(n)
    rng = random.Random(seed)
    got = bytearray()
    ref = Deframer()
    replies = []

    async def host(ctx):
        for k, c in enumerate(chunks):
            while len(replies) < (expected[k - 1] if k else 0) - 1:
                await ctx.tick()
            if c is SILENCE:
                await ctx.tick().repeat(TIMEOUT + 20)
                continue
            for b in c:
                ctx.set(core.i.payload, b)
                ctx.set(core.i.valid, 1)
                await ctx.tick().until(core.i.ready)
                ctx.set(core.i.valid, 0)
                await ctx.tick().repeat(rng.randint(*gap))
        while len(replies) < expected[-1]:
            await ctx.tick()
        await ctx.tick().repeat(300)  # nothing more may come

    async def sink(ctx):
        r = random.Random(seed + 1)
        while True:
            ready = r.random() >= pause_out
            ctx.set(core.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(core.o.valid, core.o.payload)
            if valid and ready:
                got.append(payload)
                replies.extend(ref.feed([payload]))

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(host)
    sim.add_testbench(sink, background=True)
    sim.run()
    return replies


def _vectors(n, seed):
    return np.random.default_rng(seed).integers(-128, 128, (n, 768)).astype(np.int8)


@pytest.mark.parametrize("form", sorted(PERSON_PIPELINE))
def test_commands(form):
    cfg = random_person_config(5)
    core = BoardCore(clk_hz=48_000_000, baud=3_000_000, person=(cfg, form, 2),
                     timeout_cycles=TIMEOUT)
    x = _vectors(2, 1)
    chunks = [
        encode_frame(Type.INFO, 1),
        encode_frame(Type.PING, 2, b"hello"),
        encode_frame(Type.PING, 3, bytes(range(256)) * 4),  # 1024 bytes: a whole slot
        *(encode_frame(Type.CLASSIFY, 10 + k, v.tobytes()) for k, v in enumerate(x)),
        encode_frame(Type.CLASSIFY, 20, x[0, :100].tobytes()),  # BAD_LENGTH
        encode_frame(Type.INFO, 21, b"x"),  # BAD_LENGTH
        encode_frame(Type.DET_GRID, 22, b"abc"),  # UNSUPPORTED
        encode_frame(0x3F, 23),  # BAD_TYPE
        b"\x00\x01\x02",  # BAD_MAGIC
        encode_frame(Type.PING, 24, b"")[:5], SILENCE,  # TIMEOUT
        encode_frame(Type.PING, 25, b"")[:-1] + b"\x00",  # BAD_CRC
        SILENCE,
        encode_frame(Type.STATUS, 30),
    ]
    got = run_core(core, chunks, seed=3)
    model = LinkModel((cfg, form), info=core.info)
    want = []
    for c in chunks:
        want += model.idle() if c is SILENCE else model.feed(c)
    assert got == want
    info = parse_info(got[0].payload)
    assert (info.person, info.form, info.feature_dim, info.slots) == (True, form, 768, 2)
    status = parse_status(got[-1].payload)
    assert status["images"] == 2 and status["unreported"] == 0
    for e in (Error.BAD_LENGTH, Error.BAD_MAGIC, Error.TIMEOUT, Error.BAD_CRC,
              Error.BAD_TYPE, Error.UNSUPPORTED):
        assert status[f"err_{e.name.lower()}"] >= 1, e
    assert len(status) == len(COUNTERS)


def test_classify_shipped_config():
    """The shipped config, the board's pipeline depth, both decisions among the answers."""
    cfg = default_person_config()
    core = BoardCore(clk_hz=48_000_000, baud=3_000_000,
                     person=(cfg, "popcount", PERSON_PIPELINE["popcount"] + 1),
                     timeout_cycles=TIMEOUT)
    from vitgates.sim.vectors import pooled_vectors

    x = pooled_vectors(cfg, 4, seed=2)
    chunks = [encode_frame(Type.CLASSIFY, k, v.tobytes()) for k, v in enumerate(x)]
    got = run_core(core, chunks, gap=(1, 2), pause_out=0.0, seed=4)
    want = LinkModel((cfg, "popcount"), info=core.info).feed(b"".join(chunks))
    assert got == want
    assert {p.payload for p in got} == {b"\x00", b"\x01"}


def test_no_person():
    """A bitstream without the classifier answers CLASSIFY with UNSUPPORTED."""
    core = BoardCore(clk_hz=12_000_000, baud=3_000_000, person=None, timeout_cycles=TIMEOUT)
    chunks = [encode_frame(Type.CLASSIFY, 1, bytes(768)), encode_frame(Type.INFO, 2)]
    got = run_core(core, chunks, seed=5)
    assert got[0].error == (Error.UNSUPPORTED, Type.CLASSIFY, 1, 0)
    assert parse_info(got[1].payload).person is False
