"""The integer cofiber bands (golden/cofiber.py): exactness, ranges, streaming order."""

import numpy as np
import pytest

from vitgates.golden import cofiber as gc
from vitgates.golden.detector_float import cofiber_bands as float_bands


def _grid(rng, shape, lo=-128, hi=127):
    return rng.integers(lo, hi + 1, shape).astype(np.int64)


@pytest.mark.parametrize("shape", [(4, 4, 1), (8, 12, 3), (12, 8, 5), (40, 40, 2)])
def test_bands_reconstruct_exactly(shape):
    x = _grid(np.random.default_rng(1), shape)
    b0, b1, b2 = gc.cofiber_bands(x)
    H, W, C = shape
    assert b0.shape == (H, W, C) and b1.shape == (H // 2, W // 2, C)
    assert b2.shape == (H // 4, W // 4, C)
    assert np.array_equal(gc.reconstruct(b0, b1, b2), 16 * x)


def test_bands_are_the_float_bands_times_their_factors():
    x = _grid(np.random.default_rng(2), (8, 8, 6))
    ints = gc.cofiber_bands(x)
    floats = float_bands(x.astype(np.float64))
    for b, (i, f, k) in enumerate(zip(ints, floats, (4, 16, 16), strict=True)):
        assert np.array_equal(i, f * k), f"band {b}"


def test_band_ranges_are_exact_and_reached_by_saturated_inputs():
    assert gc.band_ranges(-128, 127) == ((-765, 765), (-3060, 3060), (-2048, 2032))
    assert gc.band_widths(8) == (11, 13, 12)
    # a checkerboard of 4x4 blocks of the two saturating values reaches the extremes
    lo_hi = []
    rng = np.random.default_rng(3)
    for _ in range(200):
        x = rng.choice([-128, 127], (8, 8, 4))
        lo_hi.append([(int(b.min()), int(b.max())) for b in gc.cofiber_bands(x)])
    seen = np.array(lo_hi)
    for b, (lo, hi) in enumerate(gc.band_ranges(-128, 127)):
        assert seen[:, b, 0].min() >= lo and seen[:, b, 1].max() <= hi
    # band 0 reaches ±765: one pixel at an extreme, its three neighbours at the other
    x = np.full((4, 4, 1), -128)
    x[0, 0, 0] = 127
    assert gc.cofiber_bands(x)[0][0, 0, 0] == 765
    assert gc.cofiber_bands(-x - 1)[0][0, 0, 0] == -765
    # band 2 reaches both ends on constant grids
    assert gc.cofiber_bands(np.full((4, 4, 1), -128))[2].item() == -2048
    assert gc.cofiber_bands(np.full((4, 4, 1), 127))[2].item() == 2032


@pytest.mark.parametrize("width", [2, 8, 25])
def test_band_widths_hold_their_ranges(width):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    for (blo, bhi), bits in zip(gc.band_ranges(lo, hi), gc.band_widths(width), strict=True):
        assert -(1 << (bits - 1)) <= blo and bhi < (1 << (bits - 1))
        assert not (-(1 << (bits - 2)) <= blo and bhi < (1 << (bits - 2)))


def test_stream_order_is_block_major_and_invertible():
    yx = gc.stream_order(8, 8)
    assert yx[:16].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1], [0, 2], [0, 3], [1, 2], [1, 3],
                                [2, 0], [2, 1], [3, 0], [3, 1], [2, 2], [2, 3], [3, 2], [3, 3]]
    assert yx[16].tolist() == [0, 4]
    assert len({tuple(p) for p in yx.tolist()}) == 64
    x = _grid(np.random.default_rng(4), (12, 8, 3))
    assert np.array_equal(gc.from_stream(gc.to_stream(x), 12, 8), x)


def test_band_order_covers_every_location_once():
    rows = gc.band_order(8, 12)
    assert len(rows) == 8 * 12 * 21 // 16
    for b, (h, w) in enumerate(((8, 12), (4, 6), (2, 3))):
        sel = rows[rows[:, 0] == b]
        assert len({(y, x) for _, y, x in sel.tolist()}) == h * w
    assert rows[:21].tolist()[16:] == [[1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1], [2, 0, 0]]


def test_bad_grids_are_refused():
    with pytest.raises(ValueError, match="divisible by 4"):
        gc.cofiber_bands(np.zeros((6, 8, 2)))
    with pytest.raises(ValueError, match="must be"):
        gc.cofiber_bands(np.zeros((8, 8)))
