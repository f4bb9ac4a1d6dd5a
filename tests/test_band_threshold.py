"""BandThreshold in amaranth.sim: records of the firing classes, ties, end markers."""

import numpy as np
import pytest

from vitgates.hw.band_threshold import BandThreshold

from streams import Staller, run_testbenches, stream_get, stream_put


def ref_records(values, T, K, B):
    """values: list of (band, y, x, [K+B] values). Records (band, y, x, cls, acc, box...)."""
    out = []
    for b, y, x, v in values:
        box = tuple(int(a) for a in v[:B])
        for k in range(K):
            if v[B + k] > T[b, k]:
                out.append((b, y, x, k, int(v[B + k])) + box)
    return out


def run_threshold(frames, T, K, B, width, grid, p_in=0.0, p_out=0.0, seed=0):
    dut = BandThreshold(n_classes=K, box_rows=B, width=width, grid=grid)
    got = []

    async def producer(ctx):
        for b in range(3):
            for k in range(K):
                await stream_put(ctx, dut.t_write, {"band": b, "cls": k, "data": int(T[b, k])})
        await ctx.tick().repeat(3)
        st = Staller(p_in, seed)
        for values in frames:
            for n, (b, y, x, v) in enumerate(values):
                for c in range(K + B):
                    last = int(n == len(values) - 1 and c == K + B - 1)
                    await stream_put(ctx, dut.i, {"value": int(v[c]), "band": b, "y": y,
                                                  "x": x, "c": c, "last": last}, st)

    async def consumer(ctx):
        st = Staller(p_out, seed + 1)
        frame = []
        while len(got) < len(frames):
            r = await stream_get(ctx, dut.o, st)
            if r.end:
                assert (r.band, r.y, r.x, r.cls, r.acc) == (0, 0, 0, 0, 0)
                got.append(frame)
                frame = []
            else:
                box = tuple(int(r.box[j]) for j in range(B)) if B else ()
                frame.append((int(r.band), int(r.y), int(r.x), int(r.cls), int(r.acc)) + box)

    run_testbenches(dut, producer, consumer)
    return got


@pytest.mark.parametrize("K, B, p_in, p_out", [(5, 4, 0.0, 0.0), (3, 0, 0.4, 0.6),
                                                (6, 4, 0.3, 0.3)])
def test_threshold_matches_golden(K, B, p_in, p_out):
    width, grid = 30, (8, 8)
    rng = np.random.default_rng(K + B)
    lim = 1 << (width - 1)
    T = rng.integers(-1000, 1000, (3, K))
    T[0, 0], T[1, 0] = -lim, lim - 1  # always fires / never fires
    frames = []
    for f in range(3):
        values = []
        for n in range(0 if f == 1 else 12):  # frame 1: one value that fires nothing
            b = int(rng.integers(0, 3))
            v = rng.integers(-1500, 1500, K + B)
            v[B:] = np.where(rng.random(K) < 0.3, T[b], v[B:])  # ties: must not fire
            if n % 5 == 0:
                v[:] = rng.choice([-lim, lim - 1], K + B)  # extremes of the width
            values.append((b, int(rng.integers(0, 8)), int(rng.integers(0, 8)), v))
        frames.append(values or [(2, 0, 0, np.full(K + B, -lim))])
    got = run_threshold(frames, T, K, B, width, grid, p_in, p_out, seed=K)
    for n, values in enumerate(frames):
        assert got[n] == ref_records(values, T, K, B), f"frame {n}"
