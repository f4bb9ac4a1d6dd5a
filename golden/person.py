"""Integer models of the person classifier: the specification the hardware must equal.

Two forms (docs/arithmetic.md), both reading the 40 selected INT8 features in config order
(``pos_dims`` then ``neg_dims``):

- :func:`ref_sumdiff`: ``s = Σ pos − Σ neg`` exactly, person iff ``s > T``;
- :func:`ref_popcount`: one bit per dimension (``q > t`` positive, ``q < t`` negative),
  person iff ``popcount ≥ K``.

Also here: the conversion from a float classifier to the integer config
(:func:`derive_config`) and the fitting of the popcount thresholds, which may trade a little
threshold precision for fewer gates (:func:`fit_popcount`). numpy only; no PyTorch.
"""

import json
import math
from pathlib import Path

import numpy as np

from ..features.synthetic import pooled_dataset
from .gate_cost import comparator_cost
from .person_config import N_NEG, N_POS, PersonConfig, PersonConfigError
from .person_float import discover_dims, fit_threshold
from .quant import INT8_MAX, INT8_MIN, check_scale, quantize

__all__ = [
    "select",
    "sumdiff_score",
    "ref_sumdiff",
    "popcount_bits",
    "ref_popcount",
    "float_sumdiff",
    "choose_scale",
    "derive_config",
    "derive_config_file",
    "fit_popcount",
    "fit_config",
    "fit_synthetic_config",
]

#: Half-width of the reachable sum-difference range: 40 values of magnitude at most 128.
S_BOUND = (N_POS + N_NEG) * 128


# -- integer models ----------------------------------------------------------------------------


def select(q, cfg: PersonConfig) -> np.ndarray:
    """The 40 inputs of the hardware core: ``q[..., pos_dims + neg_dims]`` (int8)."""
    q = np.asarray(q)
    if q.shape[-1] != cfg.feature_dim:
        raise ValueError(f"features have {q.shape[-1]} dimensions, config expects "
                         f"{cfg.feature_dim}")
    return q[..., list(cfg.dims)].astype(np.int8)


def _check40(x40) -> np.ndarray:
    x = np.asarray(x40)
    if x.shape[-1] != N_POS + N_NEG:
        raise ValueError(f"expected {N_POS + N_NEG} selected features, got {x.shape[-1]}")
    if x.dtype != np.int8:
        if np.any(x < INT8_MIN) or np.any(x > INT8_MAX):
            raise ValueError("selected features must be INT8")
        x = x.astype(np.int8)
    return x


def sumdiff_score(x40) -> np.ndarray:
    """``Σ x[:20] − Σ x[20:]`` in int32 (exact: ``|s| ≤ 5120``)."""
    x = _check40(x40).astype(np.int32)
    return x[..., :N_POS].sum(-1) - x[..., N_POS:].sum(-1)


def ref_sumdiff(x40, cfg: PersonConfig) -> np.ndarray:
    """Exact sum-difference decision: ``sumdiff_score(x40) > T`` (bool)."""
    return sumdiff_score(x40) > cfg.T


def popcount_bits(x40, cfg: PersonConfig) -> np.ndarray:
    """The 40 comparator bits: ``x > t`` for positive dims, ``x < t`` for negative (bool)."""
    x = _check40(x40).astype(np.int16)
    t = np.asarray(cfg.dim_thresholds, dtype=np.int16)
    return np.concatenate([x[..., :N_POS] > t[:N_POS], x[..., N_POS:] < t[N_POS:]], axis=-1)


def ref_popcount(x40, cfg: PersonConfig) -> np.ndarray:
    """Popcount decision: ``popcount_bits(x40).sum() >= K`` (bool)."""
    return popcount_bits(x40, cfg).sum(-1) >= cfg.K


# -- float model and conversion ---------------------------------------------------------------


def float_sumdiff(features, pos, neg, threshold) -> np.ndarray:
    """The float classifier of seed 000: ``Σ f[pos] − Σ f[neg] > threshold`` (bool)."""
    f = np.asarray(features, dtype=np.float64)
    return f[..., list(pos)].sum(-1) - f[..., list(neg)].sum(-1) > threshold


def choose_scale(features, dims, percentile: float = 99.9) -> float:
    """A feature scale that maps the ``percentile`` of ``|f|`` over ``dims`` to 127."""
    a = np.abs(np.asarray(features, dtype=np.float64)[..., list(dims)])
    p = float(np.percentile(a, percentile))
    if not p > 0:
        raise ValueError("features are all zero on the selected dimensions")
    return p / INT8_MAX


def _int8_sat(v: int) -> int:
    return min(max(int(v), INT8_MIN), INT8_MAX)


def derive_config(
    pos,
    neg,
    threshold: float,
    scale: float,
    dim_thresholds,
    K: int,
    *,
    feature_dim: int = 768,
    source: dict | None = None,
) -> PersonConfig:
    """The integer config that reproduces a float classifier on quantised features.

    ``threshold``: the float sum-difference threshold θ; ``T = floor(θ / scale)`` makes
    ``s > T`` exactly ``s · scale > θ`` for integer ``s``. ``dim_thresholds``: the 40 float
    per-dimension thresholds τ (pos then neg); ``t = floor(τ / scale)`` for positive and
    ``ceil(τ / scale)`` for negative dimensions make the integer bits equal the float bits
    on dequantised features, except where t saturates to INT8 (a positive threshold below
    −128 or a negative one above 127 then differs on the single extreme code).
    """
    scale = check_scale(scale)
    T = math.floor(float(threshold) / scale)
    T = min(max(T, -S_BOUND), S_BOUND)
    tau = [float(v) for v in dim_thresholds]
    if len(tau) != N_POS + N_NEG:
        raise PersonConfigError(
            f"float classifier: dim_thresholds must list {N_POS + N_NEG} values, got {len(tau)}"
        )
    t = [_int8_sat(math.floor(v / scale)) for v in tau[:N_POS]]
    t += [_int8_sat(math.ceil(v / scale)) for v in tau[N_POS:]]
    return PersonConfig(
        pos_dims=tuple(int(d) for d in pos),
        neg_dims=tuple(int(d) for d in neg),
        scale=scale,
        T=int(T),
        dim_thresholds=tuple(t),
        K=int(K),
        feature_dim=feature_dim,
        source=dict(source or {}),
    )


def derive_config_file(path) -> PersonConfig:
    """:func:`derive_config` from a float-classifier JSON file, with one-line errors."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise PersonConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PersonConfigError(f"{path}: cannot read a JSON object ({e})") from None
    if not isinstance(d, dict):
        raise PersonConfigError(f"{path}: expected a JSON object")
    need = ("pos_dims", "neg_dims", "threshold", "scale", "dim_thresholds", "K")
    missing = [k for k in need if k not in d]
    if missing:
        raise PersonConfigError(f"{path}: missing field {', '.join(map(repr, missing))}")
    try:
        scale = check_scale(d["scale"])
        threshold = float(d["threshold"])
        tau = [float(v) for v in d["dim_thresholds"]]
    except (TypeError, ValueError) as e:
        raise PersonConfigError(f"{path}: {e}") from None
    if not math.isfinite(threshold):
        raise PersonConfigError(f"{path}: 'threshold' must be finite")
    return derive_config(
        d["pos_dims"], d["neg_dims"], threshold, scale, tau, d["K"],
        feature_dim=d.get("feature_dim", 768), source={"float_classifier": path.name},
    )


# -- fitting -----------------------------------------------------------------------------------


def _f1(pred, labels) -> float:
    pred = np.asarray(pred, bool)
    labels = np.asarray(labels, bool)
    tp = np.count_nonzero(pred & labels)
    denom = np.count_nonzero(pred) + np.count_nonzero(labels)
    return 0.0 if denom == 0 else 2 * tp / denom


def _best_threshold(x, labels, positive: bool) -> int:
    """The INT8 threshold of one dimension that maximises TPR − FPR of its bit."""
    x = np.asarray(x, np.int16)
    pos = np.bincount(x[labels] + 128, minlength=256).astype(np.float64)
    neg = np.bincount(x[~labels] + 128, minlength=256).astype(np.float64)
    pos /= max(pos.sum(), 1)
    neg /= max(neg.sum(), 1)
    # P(x > t) for t = -128..127 is the tail sum above t
    if positive:
        tpr = 1 - np.cumsum(pos)
        fpr = 1 - np.cumsum(neg)
        return int(np.argmax(tpr - fpr)) - 128
    # bit is x < t: P(x < t) = cumulative sum below t
    below_p = np.concatenate([[0.0], np.cumsum(pos)[:-1]])
    below_n = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    return int(np.argmax(below_p - below_n)) - 128


def _best_f1(counts, labels, n_bits):
    """``(F1, K)`` of ``counts >= K`` maximising F1 over K in 0..n_bits."""
    hp = np.bincount(counts[labels], minlength=n_bits + 2)
    hn = np.bincount(counts[~labels], minlength=n_bits + 2)
    tp = np.cumsum(hp[::-1])[::-1][: n_bits + 1]  # positives with count >= K
    fp = np.cumsum(hn[::-1])[::-1][: n_bits + 1]
    denom = tp + fp + np.count_nonzero(labels)
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    k = int(np.argmax(f1))
    return float(f1[k]), k


def fit_popcount(x40, labels, *, gate_weight: float = 5e-5, radius: int = 8,
                 rounds: int = 3):
    """Fit the 40 INT8 thresholds and K of the popcount form on selected INT8 features.

    Each threshold starts where its own bit best separates the classes (max TPR − FPR),
    then ``rounds`` of coordinate ascent move each within ``radius`` INT8 steps of its start
    to maximise ``F1 − gate_weight · gates``, where ``gates`` is what the comparator costs
    in the hardware (:func:`vitgates.golden.gate_cost.comparator_cost`; a threshold such as −1 costs
    one gate, 0 costs sixteen). ``gate_weight = 0`` fits F1 alone. ``K`` maximises F1.
    Returns ``(thresholds, K)``.
    """
    x = _check40(x40).astype(np.int16)
    labels = np.asarray(labels, bool)
    n = N_POS + N_NEG

    def bit(i, t):
        return x[:, i] > t if i < N_POS else x[:, i] < t

    start = [_best_threshold(x[:, i], labels, i < N_POS) for i in range(n)]
    t = list(start)
    bits = np.stack([bit(i, t[i]) for i in range(n)], 1).astype(np.int16)
    counts = bits.sum(1)
    for _ in range(rounds):
        for i in range(n):
            rest = counts - bits[:, i]
            best = None
            for c in range(max(INT8_MIN, start[i] - radius), min(INT8_MAX, start[i] + radius) + 1):
                b = bit(i, c)
                f1, _ = _best_f1(rest + b, labels, n)
                score = f1 - gate_weight * comparator_cost(c, positive=i < N_POS)
                if best is None or score > best[0] + 1e-12:
                    best = (score, c, b)
            t[i] = best[1]
            bits[:, i] = best[2]
            counts = rest + best[2]
    _, K = _best_f1(counts, labels, n)
    return tuple(int(v) for v in t), int(K)


def fit_config(features, labels, pos, neg, threshold, *, gate_weight: float = 5e-5,
               source: dict | None = None) -> PersonConfig:
    """An integer config from labelled float pooled features and a float classifier.

    ``pos``/``neg``/``threshold`` define the float sum-difference classifier (for example
    from :mod:`vitgates.golden.person_float`); the scale is :func:`choose_scale` over the
    40 dimensions; the popcount form is fitted by :func:`fit_popcount` on the quantised
    features. ``source`` gains the float and integer F1 on these data.
    """
    features = np.asarray(features)
    labels = np.asarray(labels, bool)
    dims = list(pos) + list(neg)
    scale = choose_scale(features, dims)
    q = quantize(features[:, dims], scale)
    t, K = fit_popcount(q, labels, gate_weight=gate_weight)
    T = min(max(math.floor(float(threshold) / scale), -S_BOUND), S_BOUND)
    src = dict(source or {})
    cfg = PersonConfig(tuple(int(d) for d in pos), tuple(int(d) for d in neg), scale, int(T),
                       t, K, feature_dim=features.shape[1])
    float_pred = float_sumdiff(features, pos, neg, threshold)
    src.update(
        float_threshold=float(threshold),
        popcount_gate_weight=gate_weight,
        f1_float=round(_f1(float_pred, labels), 4),
        f1_sumdiff_int8=round(_f1(ref_sumdiff(q, cfg), labels), 4),
        f1_popcount_int8=round(_f1(ref_popcount(q, cfg), labels), 4),
        int8_vs_float_agreement=round(float(np.mean(ref_sumdiff(q, cfg) == float_pred)), 4),
    )
    return PersonConfig(cfg.pos_dims, cfg.neg_dims, scale, cfg.T, t, K,
                        feature_dim=cfg.feature_dim, source=src)


def fit_synthetic_config(seed: int = 0, gate_weight: float = 5e-5) -> PersonConfig:
    """The default config: discovered and fitted on the synthetic pooled set (``seed``)."""
    data = pooled_dataset(seed=seed)
    pos, neg = discover_dims(data.features, data.person)
    theta = fit_threshold(data.features, data.person, pos, neg)
    return fit_config(
        data.features, data.person, pos, neg, theta,
        gate_weight=gate_weight,
        source={"dataset": f"{data.name} (synthetic, seed {seed})"},
    )
