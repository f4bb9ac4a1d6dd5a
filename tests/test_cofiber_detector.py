"""CofiberDetector in amaranth.sim: bit-exact detection streams against the golden model."""

import numpy as np
import pytest
from detector_sim import get_records, load_thresholds, load_weights, put_features, records_of

from vitgates.golden.detector import Folding, random_head, ref_detect
from vitgates.hw.cofiber_detector import CofiberDetector

from streams import Staller, run_testbenches


def _frames(n, shape, seed, saturate=False):
    rng = np.random.default_rng(seed)
    if saturate:
        return [rng.choice(np.array([-128, 127], np.int8), shape) for _ in range(n)]
    return [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(n)]


def run_detector(frames, head, folding, *, p_in=0.0, p_out=0.0, seed=0, fifo_depth=0):
    H, W, C = frames[0].shape
    dut = CofiberDetector(grid=(H, W), channels=C, n_classes=head.n_classes,
                          box_rows=head.box_rows, folding=folding, fifo_depth=fifo_depth)
    got = []

    async def producer(ctx):
        await load_weights(ctx, dut.w_write, head, folding)
        await load_thresholds(ctx, dut.t_write, head)
        await put_features(ctx, dut.i, frames, folding.lanes, Staller(p_in, seed))

    async def consumer(ctx):
        got.extend(await get_records(ctx, dut.o, len(frames), Staller(p_out, seed + 1),
                                     head.box_rows))

    run_testbenches(dut, producer, consumer)
    return got


@pytest.mark.parametrize("shape, folding, box_rows, p_in, p_out, saturate, fifo", [
    ((8, 8, 16), Folding(2, 4, 2), 4, 0.0, 0.0, False, 0),
    ((8, 8, 16), Folding(1, 3, 4), 0, 0.3, 0.5, True, 0),
    ((12, 8, 32), Folding(4, 5, 8), 4, 0.5, 0.3, False, 16),
])
def test_detector_matches_golden(shape, folding, box_rows, p_in, p_out, saturate, fifo):
    C = shape[2]
    frames = _frames(2, shape, seed=C + box_rows, saturate=saturate)
    head = random_head(C, 7, box_rows, seed=C, grids=frames, fire=0.1,
                       weights="extreme" if saturate else "uniform")
    got = run_detector(frames, head, folding, p_in=p_in, p_out=p_out, seed=3, fifo_depth=fifo)
    for n, q in enumerate(frames):
        want = records_of(ref_detect(q, head))
        assert len(want) > 0 and {r[0] for r in want} == {0, 1, 2}
        assert got[n] == want, f"frame {n}: first difference at " + str(next(
            (i, a, b) for i, (a, b) in enumerate(zip(got[n], want, strict=False)) if a != b)
            if got[n][:len(want)] != want[:len(got[n])] else (len(got[n]), len(want)))


def test_synthesis_wrapper_is_the_detector_behind_bytes():
    """DetectorSynthTop (what `vitgates synth --design detector` builds) carries every
    weight, threshold, feature and record byte by byte, unchanged."""
    from amaranth.lib import data

    from vitgates.fpga.detector_design import DetectorSynthTop
    from vitgates.golden.cofiber import to_stream
    from vitgates.golden.detector import pack_thresholds, pack_weights

    from streams import stream_get, stream_put

    frames = _frames(1, (4, 8, 8), seed=5)
    head = random_head(8, 3, 4, seed=6, grids=frames, fire=0.2)
    folding = Folding(2, 4, 2)
    det = CofiberDetector(grid=(4, 8), channels=8, n_classes=3, box_rows=4, folding=folding)
    top = DetectorSynthTop(det)

    def as_bytes(layout, value):
        v = data.Layout.cast(layout).const(value).as_bits()
        n = -(-data.Layout.cast(layout).size // 8)
        return [(v >> (8 * j)) & 0xFF for j in range(n)]

    stream = []
    addr, words = pack_weights(head, folding)
    for a, w in zip(addr.tolist(), words.tolist(), strict=True):
        stream += [(b, 1) for b in as_bytes(det.w_write.payload.shape(), {"addr": a, "data": w})]
    for b_, k, v in zip(*(x.tolist() for x in pack_thresholds(head)), strict=True):
        stream += [(b, 2) for b in as_bytes(det.t_write.payload.shape(),
                                            {"band": b_, "cls": k, "data": v})]
    for row in to_stream(frames[0]).reshape(-1, 2).tolist():
        stream += [(b, 0) for b in as_bytes(det.i.payload.shape(), row)]
    want = records_of(ref_detect(frames[0], head))
    rec_layout = data.Layout.cast(det.o.payload.shape())
    n_bytes = -(-rec_layout.size // 8)
    got = []

    async def producer(ctx):
        for b, sel in stream:
            await stream_put(ctx, top.i, {"byte": b, "sel": sel})

    async def consumer(ctx):
        while True:
            v = 0
            for j in range(n_bytes):
                v |= await stream_get(ctx, top.o) << (8 * j)
            r = data.Const(rec_layout, v)
            if r.end:
                return
            box = tuple(int(r.box[j]) for j in range(4))
            got.append((int(r.band), int(r.y), int(r.x), int(r.cls), int(r.acc)) + box)

    run_testbenches(top, producer, consumer)
    assert got == want and len(want) > 0
