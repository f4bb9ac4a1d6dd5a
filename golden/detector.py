"""The integer cofiber detector: the specification the detector hardware must equal.

On an INT8 feature grid ``q`` [H, W, C] and an :class:`~.detector_head.Int8DetectorHead`
(INT8 weight ``W`` [R, C], thresholds ``T`` [3, K]):

1. the integer bands of docs/arithmetic.md (:func:`vitgates.golden.cofiber.cofiber_bands`);
2. one accumulator per band location and row, ``acc = Σ_c W[r, c]·band[c]``, exact
   (:func:`accumulators`);
3. class ``k`` fires at a location of band ``b`` iff ``acc[k] > T[b, k]``
   (:func:`decisions`);
4. the sparse detection list: one record ``(band, y, x, cls, acc, box)`` per firing
   class, ``box`` the ``B`` box-row accumulators of the same location, in the order the
   hardware emits them (:func:`ref_detect`; order below).

**Detection order.** Per 4×4 block of the grid in raster order: band 0 of the block's 16
pixels in streaming order (sub-blocks in raster order, pixels in raster order inside each),
then band 1 of its four sub-blocks in raster order, then band 2 of the block; at each
location the firing classes in ascending order (:func:`vitgates.golden.cofiber.band_order`).
Coordinates ``(y, x)`` are in the band's own grid (band 1 is H/2 × W/2, band 2 H/4 × W/4).

**Float to integer** (:func:`quantize_head`). A float head (weight ``Wf`` [R, C], bias
[R]) fires class ``k`` when ``sigmoid(Wf[k]·band_f + bias[k]) > p``, i.e. when the logit
exceeds ``t = log(p / (1 − p))``. Weights become INT8 with one scale per row
(``s_w[r] = max|Wf[r]| / 127``, round half to even, never −128), features become INT8 with
the feature scale ``s_x``, and a float band is ``band_b · f_b · s_x`` with ``f_b = 1/4,
1/16, 1/16``. On the dequantised values the float rule reads
``acc · s_w[k] · s_x · f_b + bias[k] > t``; all scales are positive, so for an integer
``acc`` it is exactly ``acc > T[b, k]`` with

    T[b, k] = floor((t − bias[k]) / (s_w[k] · s_x · f_b)),

computed in exact rational arithmetic on the float64 values of ``t``, ``bias``, ``s_w``
and ``s_x``, then clamped to ``[lo_b − 1, hi_b]`` (the reachable range, which changes no
decision). :func:`float_rule_exact` is that rule, evaluated with fractions, for tests.

**Linearity.** The hardware classifies first and forms the bands on the accumulators:
with ``P0 = W·x``, ``P1 = Σ 2×2 P0`` and ``P2 = Σ 2×2 P1``, ``W·band0 = 4·P0 − P1↑``,
``W·band1 = 4·P1 − P2↑``, ``W·band2 = P2`` exactly (proofs/Classify.v,
``classify_commutes_with_bands``). :func:`accumulators_via_grid` computes that way;
:func:`accumulators` from the bands; tests check they agree.

numpy only; no PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..features.coco import category_index
from .cofiber import block_sum, check_grid, cofiber_bands, upsample
from .detector_float import (
    STRIDES,
    Detections,
    FloatDetectorHead,
    band_locations,
    decode_boxes,
    float_decisions,
)
from .detector_float import cofiber_bands as float_bands
from .detector_head import (
    BAND_FACTORS,
    BOX_ROWS,
    NUM_CLASSES,
    Int8DetectorHead,
    acc_range,
)
from .quant import quantize

__all__ = [
    "Folding",
    "hw_row_order",
    "accumulators",
    "accumulators_via_grid",
    "decisions",
    "detection_dtype",
    "ref_detect",
    "score_logit",
    "with_score_thresh",
    "quantize_weights",
    "derive_thresholds",
    "quantize_head",
    "head_from_handover",
    "float_rule_exact",
    "pack_weights",
    "pack_thresholds",
    "decode_detections",
    "int8_decisions",
    "decision_agreement",
    "lstsq_head",
    "random_head",
    "example_model",
]


# -- hardware layout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Folding:
    """How the classifier's MAC array is folded (:class:`~vitgates.hw.int8_classifier.
    Int8Classifier`): ``pixels`` pixels share each weight read, ``rows`` weight rows and
    ``lanes`` channels are read per cycle, so one cycle does ``pixels·rows·lanes`` MACs
    from one weight word of ``rows·lanes`` INT8 values."""

    pixels: int = 2
    rows: int = 4
    lanes: int = 2

    def __post_init__(self):
        if self.pixels not in (1, 2, 4):
            raise ValueError(f"pixels must be 1, 2 or 4, got {self.pixels}")
        if self.rows < 1 or self.lanes < 1:
            raise ValueError("rows and lanes must be positive")

    @property
    def macs_per_cycle(self) -> int:
        return self.pixels * self.rows * self.lanes

    def passes(self, n_rows: int) -> int:
        """Passes over the channels per pixel group: ``ceil(n_rows / rows)``."""
        return -(-n_rows // self.rows)

    def words_per_pass(self, channels: int) -> int:
        if channels % self.lanes:
            raise ValueError(f"{channels} channels are not a multiple of {self.lanes} lanes")
        return channels // self.lanes

    def depth(self, n_rows: int, channels: int) -> int:
        """Words in the weight memory."""
        return self.passes(n_rows) * self.words_per_pass(channels)


def hw_row_order(n_classes: int, box_rows: int) -> list[int]:
    """Head rows in the order the hardware computes them: the box rows first (so that a
    location's box accumulators are known when its classes are thresholded), then the
    classes in ascending order."""
    return list(range(n_classes, n_classes + box_rows)) + list(range(n_classes))


def pack_weights(head: Int8DetectorHead, folding: Folding):
    """The writes that load ``head`` into the weight memory: ``(addr [n] int64,
    words [n, rows·lanes] int8)``.

    Word ``pass·(C/lanes) + k`` holds, at element ``r·lanes + l``, the weight of hardware
    row ``pass·rows + r`` (:func:`hw_row_order`; rows past R are zero) and channel
    ``k·lanes + l``. Element ``e`` occupies bits ``8e .. 8e+7`` of the memory word.
    """
    R, C = head.weight.shape
    n_pass = folding.passes(R)
    wpp = folding.words_per_pass(C)
    w = np.zeros((n_pass * folding.rows, C), np.int8)
    w[:R] = head.weight[hw_row_order(head.n_classes, head.box_rows)]
    words = (w.reshape(n_pass, folding.rows, wpp, folding.lanes).transpose(0, 2, 1, 3)
             .reshape(n_pass * wpp, folding.rows * folding.lanes))
    return np.arange(n_pass * wpp, dtype=np.int64), np.ascontiguousarray(words)


def pack_thresholds(head: Int8DetectorHead):
    """The writes that load the thresholds: ``(band [3K], cls [3K], value [3K])``."""
    K = head.n_classes
    band, cls = np.divmod(np.arange(3 * K, dtype=np.int64), K)
    return band, cls, head.thresholds.reshape(-1).astype(np.int64)


# -- the integer model -------------------------------------------------------------------------


def _int8_grid(q) -> np.ndarray:
    q = check_grid(q, "feature grid")
    if q.dtype != np.int8:
        if not np.issubdtype(q.dtype, np.integer) or q.min() < -128 or q.max() > 127:
            raise ValueError("the feature grid must hold INT8 values")
        q = q.astype(np.int8)
    return q


def _matmul_exact(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``a @ w.T`` for integer arrays whose every partial sum is below 2**53 in magnitude:
    exact in float64 (BLAS), returned as int64."""
    bound = float(np.abs(a).max(initial=0)) * float(np.abs(w).max(initial=0)) * a.shape[-1]
    if bound >= 2.0 ** 53:
        raise ValueError("accumulators would not be exact in float64")
    # one 2-D product: numpy's batched matmul over leading axes is far slower
    flat = a.reshape(-1, a.shape[-1]).astype(np.float64)
    out = (flat @ w.astype(np.float64).T).astype(np.int64)
    return out.reshape(*a.shape[:-1], w.shape[0])


def accumulators(q, head: Int8DetectorHead) -> list[np.ndarray]:
    """Per band, the accumulators ``[h, w, R]`` int64 of every location and head row
    (file row order: classes, then box rows), from the integer bands."""
    q = _int8_grid(q)
    if q.shape[-1] != head.channels:
        raise ValueError(f"grid has {q.shape[-1]} channels, the head {head.channels}")
    return [_matmul_exact(b, head.weight) for b in cofiber_bands(q)]


def accumulators_via_grid(q, head: Int8DetectorHead) -> list[np.ndarray]:
    """:func:`accumulators` the way the hardware computes them: classify the grid, then
    form the bands on the accumulators (``4·P0 − P1↑``, ``4·P1 − P2↑``, ``P2``)."""
    q = _int8_grid(q)
    if q.shape[-1] != head.channels:
        raise ValueError(f"grid has {q.shape[-1]} channels, the head {head.channels}")
    p0 = _matmul_exact(q, head.weight)
    p1 = block_sum(p0)
    p2 = block_sum(p1)
    return [4 * p0 - upsample(p1), 4 * p1 - upsample(p2), p2]


def decisions(accs: list[np.ndarray], head: Int8DetectorHead) -> list[np.ndarray]:
    """Per band, ``[h, w, K]`` bool: ``acc[..., k] > T[b, k]``."""
    K = head.n_classes
    return [a[..., :K] > head.thresholds[b] for b, a in enumerate(accs)]


def detection_dtype(box_rows: int = BOX_ROWS) -> np.dtype:
    """The record of one detection: band, y, x, cls, acc, and ``box`` [box_rows] when the
    head has box rows."""
    fields = [("band", np.int64), ("y", np.int64), ("x", np.int64), ("cls", np.int64),
              ("acc", np.int64)]
    if box_rows:
        fields.append(("box", np.int64, (box_rows,)))
    return np.dtype(fields)


def _emission_key(band, y, x, W):
    """Position of a band location in the hardware's emission order (within a frame)."""
    f = np.left_shift(1, band)
    Y, X = y * f, x * f  # top-left stride-16 cell of the location
    block = (Y // 4) * (W // 4) + X // 4
    sub = ((Y % 4) // 2) * 2 + (X % 4) // 2
    ordinal = np.where(band == 0, sub * 4 + (Y % 2) * 2 + X % 2,
                       np.where(band == 1, 16 + sub, 20))
    return block * 21 + ordinal


def ref_detect(q, head: Int8DetectorHead) -> np.ndarray:
    """The sparse detections of one INT8 grid ``q`` [H, W, C], in hardware order
    (module docstring): a structured array of :func:`detection_dtype`."""
    q = _int8_grid(q)
    W = q.shape[1]
    accs = accumulators_via_grid(q, head)
    K, B = head.n_classes, head.box_rows
    parts = []
    for b, (a, d) in enumerate(zip(accs, decisions(accs, head), strict=True)):
        y, x, k = np.nonzero(d)
        rec = np.zeros(len(k), detection_dtype(B))
        rec["band"], rec["y"], rec["x"], rec["cls"] = b, y, x, k
        rec["acc"] = a[y, x, k]
        if B:
            rec["box"] = a[y, x, K:K + B]
        parts.append(rec)
    out = np.concatenate(parts)
    order = np.lexsort((out["cls"], _emission_key(out["band"], out["y"], out["x"], W)))
    return out[order]


# -- float to integer --------------------------------------------------------------------------


def score_logit(score_thresh: float) -> float:
    """The logit cut of a score threshold: ``log(p / (1 − p))`` (float64)."""
    p = float(score_thresh)
    if not 0 < p < 1:
        raise ValueError(f"score threshold must lie in (0, 1), got {p!r}")
    return math.log(p / (1 - p))


def quantize_weights(weight, *, per_row: bool = True):
    """INT8 weights and their scales: ``(Wq int8 [R, C], scale float64 [R])``.

    Symmetric: ``scale = max|W| / 127`` per row (or one for the whole tensor), codes
    ``round_half_even(W / scale)`` in [−127, 127]. An all-zero row gets scale 1.
    """
    w = np.asarray(weight, np.float64)
    if w.ndim != 2 or not np.all(np.isfinite(w)):
        raise ValueError("weight must be a finite [R, C] array")
    m = np.abs(w).max(axis=1) if per_row else np.full(w.shape[0], np.abs(w).max())
    scale = np.where(m > 0, m / 127.0, 1.0)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def derive_thresholds(bias, weight_scale, feature_scale: float, score_thresh: float,
                      channels: int) -> np.ndarray:
    """``T[b, k] = floor((t − bias[k]) / (s_w[k]·s_x·f_b))`` exactly, clamped to
    ``[lo_b − 1, hi_b]``: int64 [3, K] for the K entries of ``bias``/``weight_scale``."""
    t = Fraction(score_logit(score_thresh))
    sx = Fraction(float(feature_scale))
    out = np.zeros((3, len(bias)), np.int64)
    for b in range(3):
        lo, hi = acc_range(channels, b)
        fb = Fraction(BAND_FACTORS[b])
        for k, (bk, sk) in enumerate(zip(bias, weight_scale, strict=True)):
            v = (t - Fraction(float(bk))) / (Fraction(float(sk)) * sx * fb)
            out[b, k] = min(max(math.floor(v), lo - 1), hi)
    return out


def quantize_head(weight, bias, feature_scale: float, score_thresh: float = 0.05, *,
                  n_classes: int = NUM_CLASSES, per_row: bool = True,
                  meta: dict | None = None) -> Int8DetectorHead:
    """The INT8 head of a float head (``weight`` [K or K+4, C], ``bias``): weights per
    :func:`quantize_weights`, thresholds per :func:`derive_thresholds`."""
    w = np.asarray(weight, np.float64)
    b = np.asarray(bias, np.float64)
    if w.ndim != 2 or b.shape != (w.shape[0],):
        raise ValueError(f"float head must be weight [R, C] and bias [R], got "
                         f"{list(w.shape)} and {list(b.shape)}")
    if w.shape[0] not in (n_classes, n_classes + BOX_ROWS):
        raise ValueError(f"float head has {w.shape[0]} rows; expected {n_classes} or "
                         f"{n_classes + BOX_ROWS}")
    wq, ws = quantize_weights(w, per_row=per_row)
    T = derive_thresholds(b[:n_classes], ws[:n_classes], feature_scale, score_thresh,
                          w.shape[1])
    return Int8DetectorHead(weight=wq, thresholds=T, weight_scale=ws, bias=b,
                            feature_scale=float(feature_scale),
                            score_thresh=float(score_thresh),
                            meta={"per_row_scales": bool(per_row), **(meta or {})})


def with_score_thresh(head: Int8DetectorHead, score_thresh: float) -> Int8DetectorHead:
    """``head`` with its thresholds derived (:func:`derive_thresholds`) for another score
    cut; weights, scales and bias unchanged."""
    K = head.n_classes
    T = derive_thresholds(head.bias[:K], head.weight_scale[:K], head.feature_scale,
                          score_thresh, head.channels)
    return Int8DetectorHead(head.weight, T, head.weight_scale, head.bias, head.feature_scale,
                            score_thresh, dict(head.meta))


def head_from_handover(handover: dict, score_thresh: float = 0.05, *,
                       per_row: bool = True) -> Int8DetectorHead:
    """The INT8 head of a trained float head, from the plain values of
    :func:`vitgates.golden.detector_float.handover` (``weight`` [84, C], ``bias`` [84],
    ``feature_scale``, ``band_factors``, ...). The band factors must be this model's
    (:data:`~.detector_head.BAND_FACTORS`): they are built into the thresholds."""
    try:
        factors = tuple(float(f) for f in handover["band_factors"])
        weight, bias = handover["weight"], handover["bias"]
        feature_scale = float(handover["feature_scale"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a detector handover ({type(e).__name__}: {e})") from None
    if factors != tuple(BAND_FACTORS):
        raise ValueError(f"handover band factors {factors} differ from the integer model's "
                         f"{tuple(BAND_FACTORS)}")
    meta = {"source": "float handover", **dict(handover.get("meta") or {})}
    return quantize_head(weight, bias, feature_scale, score_thresh, per_row=per_row, meta=meta)


def float_rule_exact(acc: int, band: int, k: int, head: Int8DetectorHead) -> bool:
    """The float decision rule on dequantised values, in exact rational arithmetic:
    ``acc·s_w[k]·s_x·f_b + bias[k] > log(p/(1−p))``. Equals ``acc > T[band, k]`` for every
    reachable ``acc`` (tests check it at and around every threshold)."""
    v = (Fraction(int(acc)) * Fraction(float(head.weight_scale[k]))
         * Fraction(head.feature_scale) * Fraction(BAND_FACTORS[band])
         + Fraction(float(head.bias[k])))
    return v > Fraction(score_logit(head.score_thresh))


# -- the host side -----------------------------------------------------------------------------


def decode_detections(dets: np.ndarray, head: Int8DetectorHead, grid_hw):
    """Scores and boxes of hardware detections, as the float head's
    :class:`~vitgates.golden.detector_float.Detections` (before NMS).

    ``score = sigmoid(acc·s_w[k]·s_x·f_b + bias[k])``; box row ``j``:
    ``v = box[j]·s_w[K+j]·s_x·f_b + bias[K+j]``, decoded as distances
    ``(stride/2)·exp(min(v, 8))`` from the location centre
    (:func:`~vitgates.golden.detector_float.decode_boxes`).
    """
    K, B = head.n_classes, head.box_rows
    if not B:
        raise ValueError("the head has no box rows")
    H, W = grid_hw
    fb = np.asarray(BAND_FACTORS)[dets["band"]] * head.feature_scale
    logit = dets["acc"] * head.weight_scale[dets["cls"]] * fb + head.bias[dets["cls"]]
    reg = dets["box"] * head.weight_scale[K:K + B] * fb[:, None] + head.bias[K:K + B]
    locs = band_locations((H, W))
    boxes = np.zeros((len(dets), 4), np.float32)
    for b in range(3):
        sel = np.flatnonzero(dets["band"] == b)
        if sel.size:
            idx = dets["y"][sel] * (W >> b) + dets["x"][sel]
            boxes[sel] = decode_boxes(reg[sel], locs[b][idx], STRIDES[b])
    scores = 1.0 / (1.0 + np.exp(-np.clip(logit, -60, 60)))
    return Detections(boxes, scores.astype(np.float32), dets["cls"].astype(np.int64),
                      dets["band"].astype(np.int64))


def int8_decisions(grid, head: Int8DetectorHead) -> list[np.ndarray]:
    """Per band, the INT8 decisions [h, w, K] of a float grid: quantise with the head's
    feature scale, accumulate, threshold."""
    return decisions(accumulators(quantize(grid, head.feature_scale), head), head)


def decision_agreement(float_head, int8_head: Int8DetectorHead, grids) -> dict:
    """How often the INT8 model on quantised features makes the float head's decision on
    the float features, over every (grid, band, location, class).

    ``float_head``: a :class:`~vitgates.golden.detector_float.FloatDetectorHead`; the
    score cut is ``int8_head.score_thresh``. Returns counts, ``agreement`` (identical
    decisions / all) and ``positive_jaccard`` (|both fire| / |either fires|).
    """
    n = same = f_pos = i_pos = both = 0
    for g in grids:
        fd = float_decisions(float_head, g, int8_head.score_thresh)
        idd = int8_decisions(g, int8_head)
        for a, b in zip(fd, idd, strict=True):
            n += a.size
            same += int(np.count_nonzero(a == b))
            f_pos += int(np.count_nonzero(a))
            i_pos += int(np.count_nonzero(b))
            both += int(np.count_nonzero(a & b))
    either = f_pos + i_pos - both
    return {"decisions": n, "identical": same, "agreement": same / max(n, 1),
            "float_fired": f_pos, "int8_fired": i_pos, "both_fired": both,
            "positive_jaccard": both / either if either else 1.0}


def lstsq_head(ds, image_ids=None, *, negatives: int = 4000, ridge: float = 1.0,
               gain: float = 10.0, seed: int = 0):
    """A float head fitted in closed form (ridge least squares, numpy) on the synthetic grid
    world (SYNTHETIC; :func:`vitgates.features.synthetic.grid_dataset`).

    Class rows regress a one-hot target (1 at each planted object's location and class, 0
    elsewhere; all positive locations and ``negatives`` random background locations) from
    the float bands; logits are ``gain·(prediction − 1/2)``. Box rows regress
    ``(log fw, log fh, log fw, log fh)`` at the positive locations, which
    :func:`~vitgates.golden.detector_float.decode_boxes` turns back into the planted box.
    Returns a :class:`~vitgates.golden.detector_float.FloatDetectorHead` (84 rows).
    """
    rng = np.random.default_rng(seed)
    ids = ds.image_ids if image_ids is None else image_ids
    pos_x, pos_cls, pos_box, neg_x = [], [], [], []
    for i in ids:
        bands = float_bands(ds.grid(int(i)))
        taken = [np.zeros(b.shape[:2], bool) for b in bands]
        for o in ds.objects(int(i)):
            s = o.scale
            y, x = o.cell[0] >> s, o.cell[1] >> s
            taken[s][y, x] = True
            pos_x.append(bands[s][y, x])
            pos_cls.append(category_index(o.category_id))
            lw, lh = math.log(o.fw), math.log(o.fh)
            pos_box.append((lw, lh, lw, lh))
        for b, t in zip(bands, taken, strict=True):
            free = b[~t]
            neg_x.append(free[rng.choice(len(free), size=min(len(free), 64), replace=False)])
    neg = np.concatenate(neg_x)
    neg = neg[rng.choice(len(neg), size=min(len(neg), negatives), replace=False)]
    X = np.concatenate([np.asarray(pos_x), neg]).astype(np.float64)
    Y = np.zeros((len(X), NUM_CLASSES))
    Y[np.arange(len(pos_cls)), pos_cls] = 1.0
    C = X.shape[1]

    def ridge_fit(A, T):
        A1 = np.concatenate([A, np.ones((len(A), 1))], 1)
        reg = ridge * np.eye(C + 1)
        reg[-1, -1] = 0.0
        sol = np.linalg.solve(A1.T @ A1 + reg, A1.T @ T)
        return sol[:-1].T, sol[-1]

    wc, bc = ridge_fit(X, Y)
    wb, bb = ridge_fit(np.asarray(pos_x, np.float64), np.asarray(pos_box))
    weight = np.concatenate([gain * wc, wb]).astype(np.float32)
    bias = np.concatenate([gain * (bc - 0.5), bb]).astype(np.float32)
    return FloatDetectorHead(weight, bias, {
        "trained": "closed-form ridge least squares (numpy)", "dataset": ds.label,
        "synthetic": True, "images": len(ids)})


def random_head(channels: int, n_classes: int, box_rows: int = BOX_ROWS, *, seed: int = 0,
                grids=(), fire: float = 0.05, weights: str = "uniform") -> Int8DetectorHead:
    """A random INT8 head for tests (SYNTHETIC): uniform INT8 weights (``weights="extreme"``:
    only −128 and 127), and thresholds placed on the accumulators of ``grids`` (INT8
    [H, W, C] each) so that about ``fire`` of the decisions of each band fire and about
    a third of the thresholds equal some reachable accumulator exactly (ties: ``acc == T``
    must not fire). Without grids, thresholds are random in the reachable range."""
    rng = np.random.default_rng(seed)
    R = n_classes + box_rows
    if weights == "extreme":
        w = rng.choice(np.array([-128, 127], np.int8), (R, channels))
    else:
        w = rng.integers(-128, 128, (R, channels)).astype(np.int8)
    T = np.zeros((3, n_classes), np.int64)
    probe = Int8DetectorHead(weight=w, thresholds=T, weight_scale=np.ones(R),
                             bias=np.zeros(R), feature_scale=1.0, meta={"synthetic": True})
    accs = [[] for _ in range(3)]
    for g in grids:
        for b, a in enumerate(accumulators(g, probe)):
            accs[b].append(a[..., :n_classes].reshape(-1, n_classes))
    for b in range(3):
        lo, hi = acc_range(channels, b)
        if not accs[b]:
            T[b] = rng.integers(lo // 64, hi // 64 + 1, n_classes)
            continue
        a = np.concatenate(accs[b])
        q = np.quantile(a, 1.0 - fire, axis=0, method="lower").astype(np.int64)
        tie = rng.random(n_classes) < 1 / 3
        pick = a[rng.integers(0, len(a), n_classes), np.arange(n_classes)]
        T[b] = np.where(tie, pick, q - rng.integers(0, 2, n_classes))
    probe.thresholds = T
    probe.validate()
    return probe


def example_model(seed: int = 0) -> Int8DetectorHead:
    """A full-size random head (80 classes + 4 box rows over 768 channels, SYNTHETIC) with
    thresholds placed so that about 1 % of the decisions on random INT8 grids fire, for
    benchmarks."""
    g = np.random.default_rng(seed).integers(-128, 128, (40, 40, 768)).astype(np.int8)
    return random_head(768, NUM_CLASSES, BOX_ROWS, seed=seed, grids=[g], fire=0.01)
