"""CofiberBands in amaranth.sim: every band value, in emission order, against the golden bands."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from vitgates.golden.cofiber import band_order, cofiber_bands, to_stream
from vitgates.hw.cofiber_bands import CofiberBands

from streams import Staller, run_testbenches, stream_get, stream_put


def ref_band_stream(x):
    """(band, y, x, c, value, last) of every output transfer, in emission order."""
    H, W, C = x.shape
    bands = cofiber_bands(x)
    rows = band_order(H, W)
    out = []
    for n, (b, y, xx) in enumerate(rows.tolist()):
        for c in range(C):
            last = int(n == len(rows) - 1 and c == C - 1)
            out.append((b, y, xx, c, int(bands[b][y, xx, c]), last))
    return out


def run_bands(frames, width, pixels, p_in=0.0, p_out=0.0, seed=0):
    H, W, C = frames[0].shape
    dut = CofiberBands(width=width, channels=C, grid=(H, W), pixels=pixels)
    got = []
    n_out = sum(H * W * 21 // 16 * C for _ in frames)

    async def producer(ctx):
        st = Staller(p_in, seed)
        for x in frames:
            s = to_stream(x)  # [H·W, C], pixels in streaming order
            for g in range(0, H * W, pixels):
                for c in range(C):
                    await stream_put(ctx, dut.i, [int(v) for v in s[g:g + pixels, c]], st)

    async def consumer(ctx):
        st = Staller(p_out, seed + 1)
        for _ in range(n_out):
            r = await stream_get(ctx, dut.o, st)
            got.append((int(r.band), int(r.y), int(r.x), int(r.c), int(r.value), int(r.last)))

    run_testbenches(dut, producer, consumer)
    return got


@pytest.mark.parametrize("shape, width, pixels, p_in, p_out, kind", [
    ((8, 8, 3), 8, 1, 0.0, 0.0, "random"),
    ((8, 12, 3), 8, 2, 0.4, 0.4, "saturated"),
    ((4, 8, 5), 25, 4, 0.2, 0.6, "saturated"),
    ((8, 4, 3), 25, 2, 0.0, 0.3, "random"),
])
def test_bands_match_golden(shape, width, pixels, p_in, p_out, kind):
    rng = np.random.default_rng(sum(shape) + width)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if kind == "saturated":
        frames = [rng.choice(np.array([lo, hi]), shape) for _ in range(2)]
    else:
        frames = [rng.integers(lo, hi + 1, shape) for _ in range(2)]
    got = run_bands(frames, width, pixels, p_in, p_out, seed=width)
    want = [r for x in frames for r in ref_band_stream(x)]
    assert len(got) == len(want)
    for n, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a == b, f"transfer {n}: got {a}, want {b}"


def test_output_holds_while_stalled():
    """Stream rule: once valid, payload and valid hold until the transfer."""
    x = np.random.default_rng(9).integers(-128, 128, (4, 4, 3))
    dut = CofiberBands(width=8, channels=3, grid=(4, 4), pixels=4)
    seen = []

    async def producer(ctx):
        s = to_stream(x)
        for g in range(0, 16, 4):
            for c in range(3):
                await stream_put(ctx, dut.i, [int(v) for v in s[g:g + 4, c]])

    async def watcher(ctx):
        held = None
        for cycle in range(400):
            ready = cycle % 3 == 0
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if held is not None:
                assert valid and payload.as_value().value == held
            held = payload.as_value().value if valid and not ready else None
            if valid and ready:
                seen.append(int(payload.value))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(watcher)
    sim.run()
    assert seen == [r[4] for r in ref_band_stream(x)]


def test_bad_parameters():
    with pytest.raises(ValueError, match="divisible by 4"):
        CofiberBands(width=8, channels=2, grid=(6, 8))
    with pytest.raises(ValueError, match="pixels"):
        CofiberBands(width=8, channels=3, grid=(8, 8), pixels=3)
    with pytest.raises(ValueError, match="at least 2"):
        CofiberBands(width=8, channels=1, grid=(8, 8))
