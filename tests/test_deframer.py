"""Deframer and Framer (amaranth.sim) against the golden frame codec of golden/link/.

The deframer's descriptors and buffer writes must equal the events of
:class:`vitgates.golden.link.deframer.Deframer` on a table of edge cases and on random malformed
streams; the framer's bytes must equal :func:`vitgates.golden.link.frames.encode_frame`.
"""

import random

import pytest
from amaranth.sim import Simulator

from vitgates.golden.link.deframer import Deframer as RefDeframer
from vitgates.golden.link.frames import MAGIC, Error, LinkError, Packet, Type, encode_frame
from vitgates.hw.deframer import Deframer
from vitgates.hw.framer import Framer

from streams import Staller, run_testbenches, stream_get, stream_put

MAXP = 64
SLOTS = 2
TIMEOUT = 40
SILENCE = None  # in a byte list: a silence longer than the timeout


def _frame(t=Type.PING, seq=1, payload=b"ab"):
    return list(encode_frame(t, seq, payload))


def _corrupt(frame, k, xor=0x01):
    f = list(frame)
    f[k] ^= xor
    return f


def _bad_length_frame():
    """A header with a correct hcrc but a length above MAXP (no payload follows)."""
    f = encode_frame(Type.PING, 9, bytes(MAXP + 1))
    return list(f[:7])


CASES = {
    "good": _frame() + _frame(Type.INFO, 2, b""),
    "max payload": _frame(Type.PING, 3, bytes(range(MAXP))),
    "stray then frame": [0x00, 0x11, 0x22] + _frame(),
    "double magic": [MAGIC[0]] + _frame(),
    "magic then stray": [MAGIC[0], 0x42] + _frame(),
    "lone magic then silence": [MAGIC[0], SILENCE] + _frame(),
    "bad hcrc": _corrupt(_frame(), 6) + _frame(seq=2),
    "bad type byte": _corrupt(_frame(), 2) + _frame(seq=2),
    "bad length": _bad_length_frame() + [1, 2, 3] + _frame(seq=4),
    "bad crc high": _corrupt(_frame(), -2) + _frame(seq=5),
    "bad crc low": _corrupt(_frame(), -1, 0x80) + _frame(seq=6),
    "bad payload": _corrupt(_frame(payload=b"xyz"), 8) + _frame(seq=7),
    "cut in header": _frame()[:4] + [SILENCE] + _frame(seq=8),
    "cut in payload": _frame(payload=b"12345")[:9] + [SILENCE] + _frame(seq=9),
    "cut in crc": _frame()[:-1] + [SILENCE] + _frame(seq=10),
    "silence ends a run": [0x01, 0x02, SILENCE, 0x03] + _frame(),
    "frames back to back, empty": _frame(payload=b"") * 3,
}


def _ref_events(items):
    ref = RefDeframer(MAXP)
    out = []
    for b in items:
        out += ref.idle() if b is SILENCE else ref.feed([b])
    return out + ref.idle()


def _run_deframer(items, *, release=True, seed=0, pause=0.3):
    dut = Deframer(max_payload=MAXP, slots=SLOTS, queue_depth=SLOTS + 2, timeout_cycles=TIMEOUT)
    events = []
    mem = {}

    async def producer(ctx):
        st = Staller(pause, seed)
        for b in items + [SILENCE]:
            if b is SILENCE:
                await ctx.tick().repeat(TIMEOUT + 10)
            else:
                await stream_put(ctx, dut.i, b, st)
        await ctx.tick().repeat(10)

    async def monitor(ctx):
        ctx.set(dut.level, 0)
        async for _clk, _rst, valid, desc, en, addr, dat in ctx.tick().sample(
                dut.desc.valid, dut.desc.payload, dut.buf.en, dut.buf.addr, dut.buf.data):
            if en:
                mem[addr] = dat
            ctx.set(dut.release, 0)
            if valid:
                if desc.status == 0:
                    base = desc.slot * MAXP
                    payload = bytes(mem.get(base + k, -1) for k in range(desc.length))
                    events.append(Packet(desc.type, desc.seq, payload))
                    ctx.set(dut.release, int(release))
                else:
                    events.append(LinkError(desc.status, desc.type, desc.seq,
                                            desc.info if desc.status == Error.BAD_MAGIC else 0))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_process(monitor)
    sim.run()
    return events


@pytest.mark.parametrize("case", sorted(CASES))
def test_cases(case):
    items = CASES[case]
    assert _run_deframer(items, seed=len(case)) == _ref_events(items)


def _mutate(rng, frame):
    f = list(frame)
    kind = rng.randrange(6)
    if kind == 0:
        f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        f = f[:rng.randrange(len(f))] + [SILENCE]
    elif kind == 2:
        f.insert(rng.randrange(len(f)), rng.getrandbits(8))
    elif kind == 3:
        del f[rng.randrange(len(f))]
    elif kind == 4:
        f = [rng.getrandbits(8) for _ in range(rng.randrange(1, 20))]
    else:
        f = f + [MAGIC[0], MAGIC[1]] + [rng.getrandbits(8) for _ in range(rng.randrange(6))]
    return f


def test_random_streams():
    """150 random malformed streams, each followed by a good frame, in one run."""
    rng = random.Random(11)
    items = []
    for k in range(150):
        payload = bytes(rng.getrandbits(8) for _ in range(rng.randrange(8)))
        items += _mutate(rng, _frame(rng.choice(list(Type)), k & 0xFF, payload))
        items += [SILENCE] + _frame(Type.PING, k & 0xFF, payload)
    got = _run_deframer(items, seed=1, pause=0.1)
    want = _ref_events(items)
    assert sum(isinstance(e, LinkError) for e in want) > 120
    assert got == want


def test_busy():
    """With both slots held, a third good frame is answered BUSY and not stored."""
    items = _frame(seq=1) + _frame(seq=2) + _frame(seq=3)
    got = _run_deframer(items, release=False)
    assert got[:2] == [Packet(Type.PING, 1, b"ab"), Packet(Type.PING, 2, b"ab")]
    assert got[2:] == [LinkError(Error.BUSY, Type.PING, 3)]


@pytest.mark.parametrize("pause", [0.0, 0.5])
def test_framer(pause):
    rng = random.Random(int(pause * 10))
    packets = [(0x81, 0, b"")] + [
        (rng.getrandbits(8), rng.getrandbits(8),
         bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 2, 5, 40]))))
        for _ in range(30)]
    dut = Framer()
    want = [b for t, q, p in packets for b in encode_frame(t, q, p)]
    got = []

    async def producer(ctx):
        st = Staller(pause, 1)
        for t, q, p in packets:
            body = [t, q, len(p) & 0xFF, len(p) >> 8, *p]
            for k, b in enumerate(body):
                await stream_put(ctx, dut.i, {"data": b, "last": int(k == len(body) - 1)}, st)

    async def consumer(ctx):
        st = Staller(pause, 2)
        while len(got) < len(want):
            got.append(await stream_get(ctx, dut.o, st))

    run_testbenches(dut, producer, consumer)
    assert got == want
