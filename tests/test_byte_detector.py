"""ByteDetector in amaranth.sim against the golden INT8 detector (``ref_detect``) and the
link's wire formats (``golden.detector_formats.DetectorShape``): small grids, random weights, random
stalls on every stream."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from vitgates.golden.detector import Folding, random_head, ref_detect
from vitgates.golden.detector_formats import DetectorShape
from vitgates.hw.byte_detector import LOAD_THRESHOLD, LOAD_WEIGHT, ByteDetector

from streams import Staller

CASES = [
    # grid, channels, classes, box rows, folding
    ((4, 4), 16, 3, 4, Folding(pixels=2, rows=4, lanes=2)),
    ((4, 8), 32, 5, 0, Folding(pixels=1, rows=2, lanes=4)),
]


def _stimulus(grid, channels, n_classes, box_rows, seed, n_grids=2):
    rng = np.random.default_rng(seed)
    grids = [rng.integers(-128, 128, (*grid, channels)).astype(np.int8)
             for _ in range(n_grids)]
    head = random_head(channels, n_classes, box_rows, seed=seed, grids=grids, fire=0.2)
    return grids, head


@pytest.mark.parametrize("case", range(len(CASES)))
def test_byte_detector(case):
    grid, C, K, B, folding = CASES[case]
    dut = ByteDetector(grid=grid, channels=C, n_classes=K, box_rows=B, folding=folding)
    shape = DetectorShape.of(dut.detector)
    assert (shape.record_bytes, shape.weight_bytes, shape.threshold_bytes, shape.stride) == (
        dut.record_bytes, dut.weight_bytes, dut.threshold_bytes, dut.stride)
    grids, head = _stimulus(grid, C, K, B, seed=case)
    # writes the detector must drop: an address past the memory, band 3, a class past K
    # (between good writes, each with a value that would corrupt the result if written)
    addr_bits = shape.weight_layout["addr"].width
    cls_bits = shape.threshold_layout["cls"].width
    bad_w = shape.weight_write({"addr": shape.depth + 1,
                                "data": [-1] * (folding.rows * folding.lanes)}
                               ) if shape.depth < 1 << addr_bits else b""
    bad_t = shape.threshold_write({"band": 3, "data": 1})
    loads = [(LOAD_WEIGHT, bad_w + shape.weight_writes(head)),
             (LOAD_THRESHOLD, bad_t + shape.threshold_writes(head) + bad_t)]
    if (1 << cls_bits) > K:  # class K
        loads.insert(1, (LOAD_THRESHOLD, shape.threshold_write({"band": 2, "cls": K, "data": 5})))
    features = b"".join(shape.grid_stream(g) for g in grids)
    want = b"".join(b"".join(shape.records(ref_detect(g, head))) for g in grids)
    n_dets = sum(len(ref_detect(g, head)) for g in grids)
    assert n_dets > 4  # the test means something
    got = bytearray()
    stall_in, stall_out = Staller(0.3, seed=1), Staller(0.3, seed=2)

    async def producer(ctx):
        for kind, payload in loads:
            for b in payload:
                await stall_in.idle(ctx)
                ctx.set(dut.load.payload, {"data": b, "kind": kind})
                ctx.set(dut.load.valid, 1)
                await ctx.tick().until(dut.load.ready)
                ctx.set(dut.load.valid, 0)
        for b in features:
            await stall_in.idle(ctx)
            ctx.set(dut.i.payload, b)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        while len(got) < len(want):
            await stall_out.idle(ctx)
            ctx.set(dut.o.ready, 1)
            (b,) = await ctx.tick().sample(dut.o.payload).until(dut.o.valid)
            ctx.set(dut.o.ready, 0)
            got.append(b)
        ctx.set(dut.o.ready, 1)
        for _ in range(200):  # nothing may follow the last end record
            _, _, valid = await ctx.tick().sample(dut.o.valid)
            assert not valid

    bad_writes = []

    async def monitor(ctx):
        det = dut.detector
        async for _, _, wv, wa, tv, tb, tc in ctx.tick().sample(
                det.w_write.valid, det.w_write.payload.addr, det.t_write.valid,
                det.t_write.payload.band, det.t_write.payload.cls):
            if (wv and wa >= shape.depth) or (tv and (tb > 2 or tc >= K)):
                bad_writes.append((wv, wa, tv, tb, tc))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(monitor, background=True)
    sim.run()
    assert not bad_writes, f"writes outside the memories reached the detector: {bad_writes}"
    rb = shape.record_bytes
    for k in range(0, len(want), rb):
        assert got[k:k + rb] == want[k:k + rb], (
            f"record {k // rb}: got {shape.parse_record(got[k:k + rb])}, "
            f"expected {shape.parse_record(want[k:k + rb])}")
    assert bytes(got) == want
