"""The float person classifier of seed 000 (stage 0): discovery, threshold and F1.

The classifier reads 20 person-positive and 20 person-negative dimensions of a pooled
feature vector, sums the positives, subtracts the negatives and compares the result with
one learned threshold: ``person = Σ f[pos] − Σ f[neg] > θ``. Everything here is numpy
(no PyTorch) so the hardware path can use it.

- :func:`discover_dims` ranks every dimension by its standardised mean difference between
  images with and without a person (Cohen's d with the pooled standard deviation) and keeps
  the ``n_pos`` most positive and the ``n_neg`` most negative.
- :func:`fit_threshold` picks θ that maximises F1 on the data (the one free parameter).
- :func:`f1_score` returns ``(f1, precision, recall)``.

The float→integer conversion is :func:`vitgates.golden.person.fit_config`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_json

__all__ = [
    "FLOAT_FORMAT",
    "FloatPersonClassifier",
    "cohens_d",
    "discover_dims",
    "f1_score",
    "fit_person",
    "fit_threshold",
    "sumdiff",
]

FLOAT_FORMAT = "vitgates-person-float"


def _check(features, labels=None):
    f = np.asarray(features)
    if f.ndim != 2:
        raise ValueError(f"features must be [n, D], got shape {f.shape}")
    if labels is None:
        return f, None
    y = np.asarray(labels).astype(bool)
    if y.shape != (f.shape[0],):
        raise ValueError(f"labels must be [{f.shape[0]}], got shape {y.shape}")
    if y.all() or not y.any():
        raise ValueError("labels must contain both classes")
    return f, y


def cohens_d(features, labels) -> np.ndarray:
    """Per-dimension ``(mean_person − mean_other) / pooled_std``: [D] float64."""
    f, y = _check(features, labels)
    a = f[y].astype(np.float64)
    b = f[~y].astype(np.float64)
    na, nb = len(a), len(b)
    var = ((na - 1) * a.var(0, ddof=1) + (nb - 1) * b.var(0, ddof=1)) / max(na + nb - 2, 1)
    return (a.mean(0) - b.mean(0)) / np.sqrt(np.maximum(var, 1e-24))


def discover_dims(features, labels, n_pos: int = 20, n_neg: int = 20):
    """The person-positive and person-negative dimensions of labelled pooled features.

    ``features``: [n, D] float; ``labels``: [n] bool (person present). Returns
    ``(pos, neg)``: lists of ``n_pos`` and ``n_neg`` distinct int dimension indices, strongest
    first (ties broken by the lower index).
    """
    d = cohens_d(features, labels)
    if n_pos + n_neg > d.size:
        raise ValueError(f"cannot pick {n_pos}+{n_neg} dimensions out of {d.size}")
    idx = np.arange(d.size)
    order_pos = np.lexsort((idx, -d))  # descending d, then index
    order_neg = np.lexsort((idx, d))
    pos = [int(i) for i in order_pos[:n_pos]]
    taken = set(pos)
    neg = [int(i) for i in order_neg if int(i) not in taken][:n_neg]
    return pos, neg


def sumdiff(features, pos, neg) -> np.ndarray:
    """``Σ f[..., pos] − Σ f[..., neg]`` in float64: [...]."""
    f = np.asarray(features, dtype=np.float64)
    return f[..., list(pos)].sum(-1) - f[..., list(neg)].sum(-1)


def fit_threshold(features, labels, pos, neg) -> float:
    """The threshold θ maximising F1 of ``sumdiff(features, pos, neg) > θ`` on the data.

    θ lies halfway between the two neighbouring scores of the best cut, so the decision
    does not hinge on float rounding of a score equal to θ. Returns a Python float.
    """
    f, y = _check(features, labels)
    s = sumdiff(f, pos, neg)
    order = np.argsort(-s, kind="stable")
    ss, ys = s[order], y[order]
    tp = np.cumsum(ys)  # predicting the top k as person, k = 1..n
    k = np.arange(1, len(s) + 1)
    f1 = 2 * tp / (k + y.sum())
    # only cuts between distinct scores are realisable by a threshold
    valid = np.append(ss[:-1] > ss[1:], True)
    f1 = np.where(valid, f1, -1.0)
    best = int(np.argmax(f1))
    if best == len(s) - 1:
        return float(ss[-1] - 1.0)
    return float((ss[best] + ss[best + 1]) / 2)


def f1_score(pred, labels) -> tuple[float, float, float]:
    """``(f1, precision, recall)`` of boolean predictions against boolean labels.

    Precision is 0 when nothing is predicted; recall is 0 when nothing is positive.
    """
    p = np.asarray(pred).astype(bool)
    y = np.asarray(labels).astype(bool)
    if p.shape != y.shape:
        raise ValueError(f"pred {p.shape} and labels {y.shape} differ in shape")
    tp = int(np.count_nonzero(p & y))
    npred, npos = int(np.count_nonzero(p)), int(np.count_nonzero(y))
    precision = tp / npred if npred else 0.0
    recall = tp / npos if npos else 0.0
    f1 = 2 * tp / (npred + npos) if npred + npos else 0.0
    return f1, precision, recall


@dataclass
class FloatPersonClassifier:
    """A fitted float classifier: ``Σ f[pos_dims] − Σ f[neg_dims] > threshold``.

    ``metrics`` holds f1/precision/recall on the data it was fitted on, ``source`` says
    which data (and that it is synthetic where it is).
    """

    pos_dims: list[int]
    neg_dims: list[int]
    threshold: float
    feature_dim: int = 768
    metrics: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)

    def predict(self, features) -> np.ndarray:
        """[n, D] float -> [n] bool."""
        return sumdiff(features, self.pos_dims, self.neg_dims) > self.threshold

    def to_dict(self) -> dict:
        return {"format": FLOAT_FORMAT, "version": 1, **asdict(self)}

    def save(self, path) -> Path:
        """Write JSON atomically (temporary name, then rename)."""
        return atomic_write_json(path, self.to_dict())


def fit_person(features, labels, n_pos: int = 20, n_neg: int = 20,
               source: dict | None = None) -> FloatPersonClassifier:
    """Discovery + threshold on labelled pooled features, with metrics on the same data."""
    f, y = _check(features, labels)
    pos, neg = discover_dims(f, y, n_pos, n_neg)
    theta = fit_threshold(f, y, pos, neg)
    clf = FloatPersonClassifier(pos, neg, theta, feature_dim=f.shape[1],
                                source=dict(source or {}))
    f1, p, r = f1_score(clf.predict(f), y)
    clf.metrics = {"f1": round(f1, 4), "precision": round(p, 4), "recall": round(r, 4),
                   "n": int(len(y)), "positives": int(y.sum())}
    return clf
