"""BoardCore (deframer, link controller, status counters, framer, person classifier) in
amaranth.sim against the golden LinkModel: every reply packet byte for byte."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from vitgates.fpga.person_design import PERSON_PIPELINE, default_person_config
from vitgates.golden.detector import Folding, random_head, ref_detect
from vitgates.golden.detector_formats import DetectorShape
from vitgates.golden.link.deframer import Deframer
from vitgates.golden.link.frames import Error, Type, encode_frame
from vitgates.golden.link.model import LinkModel
from vitgates.golden.link.replies import COUNTERS, parse_info, parse_status
from vitgates.hw.board_core import BoardCore

from conftest import random_person_config

TIMEOUT = 200
SILENCE = None
DET_PACKETS = (Type.DETECTIONS, Type.FRAME_DONE)


def run_core(core, chunks, *, gap=(1, 4), pause_out=0.2, seed=0, dets=None):
    """Send ``chunks`` (bytes, or SILENCE) a byte every ``gap`` cycles, with at most one
    chunk's replies outstanding (the host's window), and return the reply packets; the
    detector's packets (DETECTIONS, FRAME_DONE) go to the list ``dets`` instead, and the
    run goes on until the model's count of them has arrived."""
    model = LinkModel(None, info=core.info)
    expected = []  # replies expected after each chunk, cumulative
    n = 0
    for c in chunks:
        n += len(model.idle() if c is SILENCE else model.feed(c))
        expected.append(n)
    n_dets = len(model.detections)
    dets = [] if dets is None else dets
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
        while len(replies) < expected[-1] or len(dets) < n_dets:
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
                for p in ref.feed([payload]):
                    (dets if p.type in DET_PACKETS else replies).append(p)

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


#: a small detector for the link tests: 4×4 grid, 16 channels, 3 classes and 4 box rows,
#: the UP5K's folding shape (2 pixels, 4 rows, 2 lanes)
SMALL_DETECTOR = {"grid": (4, 4), "channels": 16, "n_classes": 3, "box_rows": 4,
                  "folding": Folding(pixels=2, rows=4, lanes=2)}


def small_detector_stimulus(shape, n_grids=3, seed=7):
    """Grids and a random head (SYNTHETIC) that fires on about a fifth of the decisions."""
    rng = np.random.default_rng(seed)
    grids = [rng.integers(-128, 128, (*shape.grid, shape.channels)).astype(np.int8)
             for _ in range(n_grids)]
    head = random_head(shape.channels, shape.n_classes, shape.box_rows, seed=seed,
                       grids=grids, fire=0.2)
    return grids, head


def test_detector():
    """Person classifier and detector in one core: every DET_* command and its errors,
    three grids in chunks, detections and replies against the model byte for byte."""
    cfg = random_person_config(5)
    core = BoardCore(clk_hz=48_000_000, baud=3_000_000, person=(cfg, "popcount", 2),
                     timeout_cycles=TIMEOUT, detector=SMALL_DETECTOR)
    shape = DetectorShape.from_info(core.info)
    grids, head = small_detector_stimulus(shape)
    w, t = shape.weight_writes(head), shape.threshold_writes(head)
    g = [shape.grid_stream(x) for x in grids]
    n = shape.grid_bytes
    chunks = [
        encode_frame(Type.INFO, 1),
        encode_frame(Type.DET_GRID, 2, g[0][:16]),  # BAD_ORDER: nothing loaded
        encode_frame(Type.DET_WEIGHTS, 3, w[:10]),  # BAD_LENGTH: not whole writes
        encode_frame(Type.DET_THRESHOLDS, 4, b""),  # BAD_LENGTH: empty
        encode_frame(Type.DET_WEIGHTS, 5, w),
        encode_frame(Type.DET_GRID, 6, g[0][:16]),  # BAD_ORDER: thresholds missing
        encode_frame(Type.DET_THRESHOLDS, 7, t[:4 * shape.stride]),
        encode_frame(Type.DET_THRESHOLDS, 8, t[4 * shape.stride:]),
        encode_frame(Type.DET_GRID, 9, g[0][:100]),
        encode_frame(Type.DET_WEIGHTS, 10, w),  # BAD_ORDER: inside a grid
        encode_frame(Type.DET_GRID, 11, g[0][100:] + b"x"),  # BAD_LENGTH: past the grid
        encode_frame(Type.DET_GRID, 12, g[0][100:]),
        encode_frame(Type.CLASSIFY, 13, _vectors(1, 2)[0].tobytes()),
        encode_frame(Type.DET_GRID, 14, g[1]),
        encode_frame(Type.DET_THRESHOLDS, 15, t),  # waits for grid 1's records
        encode_frame(Type.DET_GRID, 16, g[2][:n // 2]),
        encode_frame(Type.DET_GRID, 17, g[2][n // 2:]),
        encode_frame(Type.STATUS, 18),
    ]
    dets = []
    got = run_core(core, chunks, seed=8, dets=dets)
    model = LinkModel((cfg, "popcount"), info=core.info)
    want = []
    for c in chunks:
        want += model.feed(c)
    assert got == want
    want_dets = model.take_detections()
    assert dets == want_dets
    assert sum(p.type == Type.FRAME_DONE for p in dets) == 3
    assert len(dets) > 10
    acks = [p for p in got if p.type == Type.DET_GRID_ACK]
    assert [int.from_bytes(p.payload, "little") for p in acks] == [n - 100, 0, 0, n // 2, 0]
    errors = [p.error[:2] for p in got if p.error]
    assert errors == [(Error.BAD_ORDER, Type.DET_GRID), (Error.BAD_LENGTH, Type.DET_WEIGHTS),
                      (Error.BAD_LENGTH, Type.DET_THRESHOLDS), (Error.BAD_ORDER, Type.DET_GRID),
                      (Error.BAD_ORDER, Type.DET_WEIGHTS), (Error.BAD_LENGTH, Type.DET_GRID)]
    # the records are the golden detector's
    recs = [shape.parse_record(p.payload) for p in dets]
    ref = [d for x in grids for d in [*ref_detect(x, head), None]]
    assert len(recs) == len(ref)
    for r, d in zip(recs, ref, strict=True):
        if d is None:
            assert r["end"] == 1
        else:
            assert (r["band"], r["y"], r["x"], r["cls"], r["acc"]) == tuple(
                int(d[k]) for k in ("band", "y", "x", "cls", "acc"))
            assert r["box"] == tuple(int(v) for v in d["box"])
    info = parse_info(got[0].payload)
    assert info.detector and info.person
    assert DetectorShape.from_info(info) == shape


def test_detector_only():
    """A core with the detector and no classifier, and no snapshot copies of the counters
    (the UP5K's link-and-detector bitstream): CLASSIFY is UNSUPPORTED, a grid works, STATUS
    at the end is exact."""
    core = BoardCore(clk_hz=12_000_000, baud=3_000_000, person=None, timeout_cycles=TIMEOUT,
                     detector=SMALL_DETECTOR, status_copies=False)
    shape = DetectorShape.from_info(core.info)
    grids, head = small_detector_stimulus(shape, n_grids=1, seed=3)
    chunks = [encode_frame(Type.CLASSIFY, 1, bytes(768)),
              encode_frame(Type.DET_WEIGHTS, 2, shape.weight_writes(head)),
              encode_frame(Type.DET_THRESHOLDS, 3, shape.threshold_writes(head)),
              encode_frame(Type.DET_GRID, 4, shape.grid_stream(grids[0])),
              b"\x00\x01", encode_frame(Type.PING, 5, b"x")[:-1] + b"\x00",
              encode_frame(Type.STATUS, 6)]
    dets = []
    got = run_core(core, chunks, seed=6, dets=dets)
    model = LinkModel(None, info=core.info)
    want = [p for c in chunks for p in model.feed(c)]
    assert got == want and dets == model.take_detections()
    assert got[0].error == (Error.UNSUPPORTED, Type.CLASSIFY, 1, 0)
    assert dets[-1].type == Type.FRAME_DONE and len(dets) > 1
    status = parse_status(got[-1].payload)
    assert status["frames_ok"] == 5 and status["err_bad_crc"] == 1
