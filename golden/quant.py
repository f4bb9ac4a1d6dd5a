"""INT8 quantisation shared by every integer model.

``q = clip(round_half_even(f / scale), -128, 127)``; ``q * scale`` is the dequantised value.
"""

import numpy as np

__all__ = ["INT8_MIN", "INT8_MAX", "quantize", "dequantize", "check_scale"]

INT8_MIN = -128
INT8_MAX = 127


def check_scale(scale) -> float:
    """Return ``scale`` as a float, or raise ValueError when it is not finite and positive."""
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be a number, got {scale!r}") from None
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"scale must be finite and positive, got {scale!r}")
    return s


def quantize(features, scale) -> np.ndarray:
    """Quantise float features to signed INT8.

    ``features``: any float array. ``scale``: the real value of one INT8 step. Rounds half
    to even (``np.rint``) and saturates to [-128, 127]. Returns an ``int8`` array of the
    same shape.
    """
    s = check_scale(scale)
    q = np.rint(np.asarray(features, dtype=np.float64) / s)
    return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize(q, scale) -> np.ndarray:
    """The float value an INT8 code stands for: ``q * scale`` (float64)."""
    return np.asarray(q, dtype=np.float64) * check_scale(scale)
