"""The INT8 cofiber detection head: its values, its file format and their validation.

An :class:`Int8DetectorHead` is everything the detector hardware and the host need:

============== ================ ===============================================================
tensor         dtype, shape     meaning
============== ================ ===============================================================
``weight``     int8 [R, C]      rows 0..K−1 class rows, then ``B`` box rows (l, t, r, b);
                                ``R = K + B``, ``B`` is 0 or 4 (the seed's ``linear_70k``)
``thresholds`` int32 [3, K]     class ``k`` fires at band ``b`` iff ``acc > thresholds[b, k]``
``weight_scale`` float64 [R]    real value of one weight step, per row (all equal: per tensor)
``bias``       float64 [R]      the float bias (used on the host to decode scores and boxes)
============== ================ ===============================================================

plus JSON metadata: ``format`` (``vitgates-int8-detector``), ``version``, ``n_classes``,
``box_rows``, ``feature_scale`` (real value of one INT8 feature step), ``score_thresh`` (the
score cut the thresholds encode) and ``meta`` (provenance; ``synthetic`` where it applies).

The accumulator of row ``r`` at a location of band ``b`` is ``acc = Σ_c W[r, c]·band_b[c]``
(docs/arithmetic.md); its real value is ``acc · weight_scale[r] · feature_scale · f_b +
bias[r]`` with ``f_b = 1/4, 1/16, 1/16`` (:data:`BAND_FACTORS`). Thresholds must lie in
``[lo_b − 1, hi_b]``, the reachable accumulator range of band ``b`` (:func:`acc_range`)
widened by one: ``lo_b − 1`` always fires, ``hi_b`` never does.

Every field is checked on load and a bad file is refused with one line naming the file
and the field (:class:`DetectorHeadError`, a :class:`~vitgates.errors.VitgatesError`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save

from ..errors import VitgatesError
from ..fileio import atomic_write_bytes
from .cofiber import band_ranges, signed_bits

__all__ = [
    "FORMAT",
    "VERSION",
    "NUM_CLASSES",
    "BOX_ROWS",
    "BAND_FACTORS",
    "PRODUCT_RANGE",
    "DetectorHeadError",
    "Int8DetectorHead",
    "acc_range",
    "grid_acc_range",
    "acc_bits",
    "band_acc_bits",
    "load_head",
    "save_head",
]

FORMAT = "vitgates-int8-detector"
VERSION = 1
NUM_CLASSES = 80
BOX_ROWS = 4
#: real band value = integer band × factor × feature scale (docs/arithmetic.md)
BAND_FACTORS = (0.25, 0.0625, 0.0625)
#: range of one INT8 × INT8 product
PRODUCT_RANGE = (-128 * 127, 128 * 128)


class DetectorHeadError(VitgatesError):
    """An INT8 detector head (or its file) that cannot be used; the message names the field."""


def _product_range(lo: int, hi: int) -> tuple[int, int]:
    """Range of ``w·v`` for INT8 ``w`` and ``v ∈ [lo, hi]`` (``lo ≤ 0 ≤ hi``)."""
    return min(-128 * hi, 127 * lo), max(-128 * lo, 127 * hi)


def acc_range(channels: int, band: int) -> tuple[int, int]:
    """Exact range of a band accumulator ``Σ_c W[r, c]·band_b[c]`` over ``channels`` INT8
    weights and INT8 features (proofs/Classify.v ``acc_ranges``; for 768 channels band 0
    ±75,202,560, band 1 ±300,810,240, band 2 [−199,753,728, 201,326,592])."""
    lo, hi = band_ranges(-128, 127)[band]
    plo, phi = _product_range(lo, hi)
    return channels * plo, channels * phi


def grid_acc_range(channels: int) -> tuple[int, int]:
    """Range of the accumulator on the INT8 grid itself, ``Σ_c W[r, c]·x[c]``."""
    return channels * PRODUCT_RANGE[0], channels * PRODUCT_RANGE[1]


def acc_bits(channels: int) -> int:
    """Bits of the grid accumulator (25 for 768 channels, ``acc_widths_768``)."""
    return signed_bits(*grid_acc_range(channels))


def band_acc_bits(channels: int) -> int:
    """Bits of every band accumulator and threshold in the hardware: the widest band's,
    ``acc_bits + 5`` (30 for 768 channels: band 1; band 0 needs 28, band 2 29)."""
    return acc_bits(channels) + 5


@dataclass
class Int8DetectorHead:
    """A validated INT8 detection head (fields: see the module docstring)."""

    weight: np.ndarray
    thresholds: np.ndarray
    weight_scale: np.ndarray
    bias: np.ndarray
    feature_scale: float
    score_thresh: float | None = None
    meta: dict = field(default_factory=dict)
    where: str = field(default="INT8 detector head", repr=False, compare=False)

    def __post_init__(self):
        self.validate()

    # -- shape -------------------------------------------------------------------------------

    @property
    def n_classes(self) -> int:
        return int(self.thresholds.shape[1])

    @property
    def box_rows(self) -> int:
        return int(self.weight.shape[0]) - self.n_classes

    @property
    def channels(self) -> int:
        return int(self.weight.shape[1])

    @property
    def rows(self) -> int:
        return int(self.weight.shape[0])

    # -- validation --------------------------------------------------------------------------

    def _fail(self, msg: str):
        raise DetectorHeadError(f"{self.where}: {msg}")

    def _array(self, name: str, value, dtype, ndim: int) -> np.ndarray:
        a = np.asarray(value)
        if a.dtype != np.dtype(dtype):
            self._fail(f"'{name}' must be {np.dtype(dtype).name}, got {a.dtype.name} "
                       f"{list(a.shape)}")
        if a.ndim != ndim:
            self._fail(f"'{name}' must have {ndim} dimensions, got shape {list(a.shape)}")
        return a

    def validate(self) -> None:
        w = self._array("weight", self.weight, np.int8, 2)
        t = np.asarray(self.thresholds)
        if t.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
            self._fail(f"'thresholds' must be int32 or int64, got {t.dtype.name} "
                       f"{list(t.shape)}")
        t = self._array("thresholds", t.astype(np.int64), np.int64, 2)
        R, C = w.shape
        if t.shape[0] != 3 or not 1 <= t.shape[1] <= R:
            self._fail(f"'thresholds' must be [3, n_classes] with n_classes <= {R}, got "
                       f"{list(t.shape)}")
        K = t.shape[1]
        if R - K not in (0, BOX_ROWS):
            self._fail(f"'weight' has {R} rows for {K} classes: expected {K} or "
                       f"{K + BOX_ROWS} (with {BOX_ROWS} box rows)")
        if C < 2:
            self._fail(f"'weight' must have at least 2 channels, got {C}")
        ws = self._array("weight_scale", np.asarray(self.weight_scale), np.float64, 1)
        b = self._array("bias", np.asarray(self.bias), np.float64, 1)
        for name, a in (("weight_scale", ws), ("bias", b)):
            if a.shape != (R,):
                self._fail(f"'{name}' must be [{R}], got {list(a.shape)}")
            if not np.all(np.isfinite(a)):
                self._fail(f"'{name}' has a value that is not finite")
        if not np.all(ws > 0):
            self._fail(f"'weight_scale' must be positive, row {int(np.argmin(ws > 0))} is "
                       f"{ws[np.argmin(ws > 0)]!r}")
        for b_ in range(3):
            lo, hi = acc_range(C, b_)
            bad = np.flatnonzero((t[b_] < lo - 1) | (t[b_] > hi))
            if bad.size:
                k = int(bad[0])
                self._fail(f"thresholds[{b_}, {k}] = {int(t[b_, k])} is outside the reachable "
                           f"accumulator range [{lo - 1}, {hi}] of band {b_}")
        try:
            fs = float(self.feature_scale)
        except (TypeError, ValueError):
            self._fail(f"'feature_scale' must be a number, got {self.feature_scale!r}")
        if not (math.isfinite(fs) and fs > 0):
            self._fail(f"'feature_scale' must be finite and positive, got {fs!r}")
        st = self.score_thresh
        if st is not None:
            try:
                st = float(st)
            except (TypeError, ValueError):
                self._fail(f"'score_thresh' must be a number, got {self.score_thresh!r}")
            if not 0 < st < 1:
                self._fail(f"'score_thresh' must lie in (0, 1), got {st!r}")
        if not isinstance(self.meta, dict):
            self._fail("'meta' must be a JSON object")
        self.weight, self.thresholds = w, t
        self.weight_scale, self.bias = ws, b
        self.feature_scale, self.score_thresh = fs, st

    def summary(self) -> str:
        lo = [int(self.thresholds[b].min()) for b in range(3)]
        hi = [int(self.thresholds[b].max()) for b in range(3)]
        cut = "raw thresholds" if self.score_thresh is None else f"score > {self.score_thresh:g}"
        return (f"{self.n_classes} classes + {self.box_rows} box rows over {self.channels} "
                f"channels, feature scale {self.feature_scale:.6g}, {cut}, thresholds "
                + ", ".join(f"band {b} [{lo[b]}, {hi[b]}]" for b in range(3)))


# -- file format -------------------------------------------------------------------------------


def save_head(head: Int8DetectorHead, path) -> Path:
    """Write ``head`` as safetensors (atomically)."""
    md = {
        "format": FORMAT,
        "version": str(VERSION),
        "n_classes": str(head.n_classes),
        "box_rows": str(head.box_rows),
        "feature_scale": repr(float(head.feature_scale)),
        "score_thresh": "null" if head.score_thresh is None else repr(float(head.score_thresh)),
        "meta": json.dumps(head.meta),
    }
    blob = save({
        "weight": np.ascontiguousarray(head.weight, np.int8),
        "thresholds": np.ascontiguousarray(head.thresholds, np.int32),
        "weight_scale": np.ascontiguousarray(head.weight_scale, np.float64),
        "bias": np.ascontiguousarray(head.bias, np.float64),
    }, metadata=md)
    return atomic_write_bytes(Path(path), blob)


def _meta_number(md: dict, key: str, where: str, kind=float):
    if key not in md:
        raise DetectorHeadError(f"{where}: missing metadata field '{key}'")
    try:
        v = json.loads(md[key])
        if v is None:
            return None
        if kind is int and not (isinstance(v, int) and not isinstance(v, bool)):
            raise ValueError
        return kind(v)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise DetectorHeadError(f"{where}: metadata field '{key}' must be "
                                f"{'an integer' if kind is int else 'a number'}, got "
                                f"{md[key]!r}") from None


def load_head(path) -> Int8DetectorHead:
    """Read and validate a head written by :func:`save_head`; one-line errors."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise DetectorHeadError(f"{where}: no such file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            md = f.metadata() or {}
            keys = set(f.keys())
            tensors = {k: f.get_tensor(k) for k in keys}
    except Exception as e:  # safetensors raises several types for a damaged file
        raise DetectorHeadError(f"{where}: not a safetensors file ({type(e).__name__})") from None
    if md.get("format") != FORMAT:
        raise DetectorHeadError(f"{where}: not an INT8 detector head (format "
                                f"{md.get('format')!r}, expected {FORMAT!r})")
    version = _meta_number(md, "version", where, int)
    if version != VERSION:
        raise DetectorHeadError(f"{where}: version {version} is not supported (expected "
                                f"{VERSION})")
    need = ("weight", "thresholds", "weight_scale", "bias")
    missing = [k for k in need if k not in keys]
    if missing:
        raise DetectorHeadError(f"{where}: missing tensor {', '.join(map(repr, missing))}")
    extra = sorted(keys - set(need))
    if extra:
        raise DetectorHeadError(f"{where}: unexpected tensor {', '.join(map(repr, extra))}")
    t = tensors["thresholds"]
    if t.dtype != np.int32:
        raise DetectorHeadError(f"{where}: 'thresholds' must be int32, got {t.dtype.name} "
                                f"{list(t.shape)}")
    n_classes = _meta_number(md, "n_classes", where, int)
    box_rows = _meta_number(md, "box_rows", where, int)
    try:
        meta = json.loads(md.get("meta", "{}"))
    except json.JSONDecodeError:
        raise DetectorHeadError(f"{where}: metadata field 'meta' is not JSON") from None
    head = Int8DetectorHead(
        weight=tensors["weight"], thresholds=t.astype(np.int64),
        weight_scale=tensors["weight_scale"], bias=tensors["bias"],
        feature_scale=_meta_number(md, "feature_scale", where),
        score_thresh=_meta_number(md, "score_thresh", where), meta=meta, where=where,
    )
    if head.n_classes != n_classes or head.box_rows != box_rows:
        raise DetectorHeadError(
            f"{where}: metadata says {n_classes} classes and {box_rows} box rows, the tensors "
            f"hold {head.n_classes} and {head.box_rows}")
    return head
