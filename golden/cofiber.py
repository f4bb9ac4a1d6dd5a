"""Integer cofiber bands and the streaming order the hardware reads a grid in.

The arithmetic of docs/arithmetic.md, on a grid ``x[..., y, x, c]`` (channels last) whose
height and width are divisible by 4::

    S1 = Σ 2×2 block of x          S2 = Σ 2×2 block of S1
    band0 = 4·x − S1↑              band1 = 4·S1 − S2↑              band2 = S2

(``↑``: nearest-neighbour upsampling by 2). Everything here is exact integer numpy; the
float meanings (``band0/4``, ``band1/16``, ``band2/16``) are in
:mod:`vitgates.golden.detector_float`.

**Streaming order** (:func:`stream_order`). The hardware reads a grid *4×4-block-major*:
the 4×4 blocks in raster order; inside a block its four 2×2 sub-blocks in raster order;
inside a sub-block its four pixels in raster order; each pixel's channels fastest. A block
is the footprint of one band-2 location, a sub-block that of one band-1 location, so every
band value can be formed from at most one block of data (:class:`~vitgates.hw.cofiber_bands.
CofiberBands`).

**Band emission order** (:func:`band_order`), the order in which the hardware produces band
values and, restricted to the firing classes, detections: per 4×4 block in raster order,
band 0 of the 16 pixels in streaming order (sub-block by sub-block), then band 1 of the four
sub-blocks in raster order, then band 2 of the block; the channels (classifier rows) of each
location fastest.
"""

import numpy as np

__all__ = [
    "block_sum",
    "upsample",
    "cofiber_bands",
    "reconstruct",
    "band_ranges",
    "signed_bits",
    "band_widths",
    "stream_order",
    "to_stream",
    "from_stream",
    "band_order",
    "check_grid",
]


def check_grid(x, name: str = "grid") -> np.ndarray:
    """``x`` as an array [..., H, W, C] with H and W divisible by 4 (ValueError otherwise)."""
    x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(f"{name} must be [..., H, W, C], got shape {list(x.shape)}")
    H, W = x.shape[-3], x.shape[-2]
    if H % 4 or W % 4 or H == 0 or W == 0:
        raise ValueError(f"{name} is {H}x{W}: height and width must be divisible by 4")
    return x


def block_sum(x) -> np.ndarray:
    """Σ of each 2×2 block of ``x`` [..., H, W, C] -> [..., H/2, W/2, C] (int64)."""
    x = np.asarray(x, np.int64)
    H, W, C = x.shape[-3:]
    return x.reshape(*x.shape[:-3], H // 2, 2, W // 2, 2, C).sum(axis=(-4, -2))


def upsample(x) -> np.ndarray:
    """Nearest-neighbour upsampling by 2 of [..., h, w, C] -> [..., 2h, 2w, C]."""
    return np.repeat(np.repeat(np.asarray(x), 2, axis=-3), 2, axis=-2)


def cofiber_bands(x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three integer bands of an integer grid [..., H, W, C] (int64 arrays).

    ``band0`` [..., H, W, C], ``band1`` [..., H/2, W/2, C], ``band2`` [..., H/4, W/4, C].
    """
    x = check_grid(x).astype(np.int64)
    s1 = block_sum(x)
    s2 = block_sum(s1)
    return 4 * x - upsample(s1), 4 * s1 - upsample(s2), s2


def reconstruct(band0, band1, band2) -> np.ndarray:
    """``16·x = 4·band0 + band1↑ + band2↑↑``: returns ``16·x`` (int64)."""
    return (4 * np.asarray(band0, np.int64) + upsample(band1)
            + upsample(upsample(band2)))


def band_ranges(lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    """Exact ranges of ``(band0, band1, band2)`` for grid values in ``[lo, hi]``
    (``lo ≤ 0 ≤ hi``); proven for INT8 in proofs/Grid.v (``band0_range`` ...).

    ``band0 = 3x − (three neighbours)``, ``band1 = 3·S1 − (three neighbours)`` with
    ``S1 ∈ [4lo, 4hi]``, ``band2 = S2 ∈ [16lo, 16hi]``. INT8: ±765, ±3060, [−2048, 2032].
    """
    d = hi - lo
    return (-3 * d, 3 * d), (-12 * d, 12 * d), (16 * lo, 16 * hi)


def signed_bits(lo: int, hi: int) -> int:
    """The fewest two's-complement bits that hold every integer in ``[lo, hi]``."""
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def band_widths(width: int) -> tuple[int, int, int]:
    """Bits of ``(band0, band1, band2)`` for ``width``-bit signed grid values:
    ``width + 3``, ``width + 5``, ``width + 4`` (INT8: 11, 13, 12 bits)."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return tuple(signed_bits(a, b) for a, b in band_ranges(lo, hi))


def stream_order(H: int, W: int) -> np.ndarray:
    """Pixel coordinates in streaming order: [H·W, 2] int64 rows ``(y, x)``."""
    if H % 4 or W % 4:
        raise ValueError(f"grid {H}x{W} is not divisible by 4")
    by, bx, sy, sx, py, px = np.meshgrid(np.arange(H // 4), np.arange(W // 4), np.arange(2),
                                         np.arange(2), np.arange(2), np.arange(2),
                                         indexing="ij")
    y = 4 * by + 2 * sy + py
    x = 4 * bx + 2 * sx + px
    return np.stack([y.ravel(), x.ravel()], 1)


def to_stream(x) -> np.ndarray:
    """A grid [H, W, C] in streaming order: [H·W, C] (same dtype)."""
    x = check_grid(x)
    yx = stream_order(x.shape[-3], x.shape[-2])
    return x[..., yx[:, 0], yx[:, 1], :]


def from_stream(s, H: int, W: int) -> np.ndarray:
    """Inverse of :func:`to_stream`: [H·W, C] in streaming order -> [H, W, C]."""
    s = np.asarray(s)
    yx = stream_order(H, W)
    out = np.empty((H, W, s.shape[-1]), s.dtype)
    out[yx[:, 0], yx[:, 1]] = s
    return out


def band_order(H: int, W: int) -> np.ndarray:
    """Band locations in emission order: [H·W·21/16, 3] int64 rows ``(band, y, x)`` in the
    coordinates of each band's own grid (band 0: H×W, band 1: H/2×W/2, band 2: H/4×W/4)."""
    if H % 4 or W % 4:
        raise ValueError(f"grid {H}x{W} is not divisible by 4")
    rows = []
    for by in range(H // 4):
        for bx in range(W // 4):
            for s in range(4):
                for p in range(4):
                    rows.append((0, 4 * by + 2 * (s >> 1) + (p >> 1),
                                 4 * bx + 2 * (s & 1) + (p & 1)))
            for s in range(4):
                rows.append((1, 2 * by + (s >> 1), 2 * bx + (s & 1)))
            rows.append((2, by, bx))
    return np.asarray(rows, np.int64)
