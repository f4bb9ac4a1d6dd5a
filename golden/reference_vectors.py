"""Reference vectors: inputs with the golden float and integer outputs (``vitgates vectors``,
:mod:`vitgates.commands.vectors`).

The cocotb testbenches and the regression reports read these instead of recomputing the
golden models, so every consumer checks against the same bits. numpy only.

``vitgates vectors person [--config CFG] [--cache DIR] [-n N] [--out build/vectors]`` writes
``person.safetensors`` and ``person.json`` into the output folder:

- ``features`` [n, 768] float32: pooled features (synthetic seed 0 by default, or the first
  n of a cache with ``pooled``/``person`` arrays); ``labels`` [n] uint8 (person present);
- ``q`` [n, 768] int8: the features quantised with the config's scale;
- ``x40`` [n + e, 40] int8: the hardware's 40 inputs (``pos_dims`` then ``neg_dims``): the n
  data rows, then e edge rows (all −128, all 127, all 0, positives 127 / negatives −128
  and the reverse, alternating extremes, values at the thresholds and one step off);
- ``score`` [n + e] int32: ``Σ pos − Σ neg``; ``sumdiff`` [n + e] uint8: ``score > T``;
- ``popcount`` [n + e] int32 and ``popcount_decision`` [n + e] uint8 (``popcount ≥ K``);
- ``float_decision`` [n] uint8: the float classifier on the float features, where the
  config records its float threshold (``source.float_threshold``), else absent.

``person.json`` holds the config, the counts, the dataset (``synthetic`` where it is) and the
SHA-256 of the tensor file.

``vitgates vectors detector [--head INT8.safetensors] [--float FLOAT.safetensors] [-n N]``
writes ``detector.safetensors``, ``detector.json`` and the INT8 head it used
(``detector-head.safetensors``), on the synthetic grid world (images 1..n, default 2):

- ``grid`` [n, H, W, C] float32 and ``q`` [n, H, W, C] int8 (quantised with the head's
  feature scale);
- ``detections`` [m, 6 + box rows] int64: ``image`` (index into the n grids), ``band``,
  ``y``, ``x``, ``cls``, ``acc`` and the box-row accumulators, in the hardware's emission
  order per image (:func:`vitgates.golden.detector.ref_detect`);
- ``float_band{0,1,2}`` [n, h, w, 80] uint8: the float head's decisions on the float grid
  (``sigmoid(logit) > score_thresh``), and ``int8_band{0,1,2}`` the INT8 model's.

Without ``--float`` the float head is fitted in closed form on 32 other synthetic images
(:func:`vitgates.golden.detector.lstsq_head`), as the regression does; without ``--head``
it is quantised from the float head.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from safetensors.numpy import save

from ..fileio import atomic_write_bytes, atomic_write_json
from .detector import accumulators as band_accumulators
from .detector import decisions, detection_dtype, ref_detect
from .detector_float import float_decisions
from .detector_head import save_head
from .person import (
    float_sumdiff,
    popcount_bits,
    ref_popcount,
    ref_sumdiff,
    select,
    sumdiff_score,
)
from .person_float import f1_score
from .quant import quantize

__all__ = ["detector_vectors", "person_edge_rows", "person_vectors", "sumdiff_rows_ok",
           "write_detector_vectors", "write_person_vectors"]


def person_edge_rows(cfg) -> np.ndarray:
    """Edge-case inputs of the 40-input core: [e, 40] int8 (see the module docstring)."""
    rows = [np.full(40, -128), np.full(40, 127), np.zeros(40),
            np.r_[np.full(20, 127), np.full(20, -128)],
            np.r_[np.full(20, -128), np.full(20, 127)],
            np.tile([127, -128], 20), np.tile([-128, 127], 20)]
    t = np.asarray(cfg.dim_thresholds, np.int64)
    for d in (-1, 0, 1):
        rows.append(np.clip(t + d, -128, 127))
    # rows whose score is exactly T and T + 1, the two sides of the decision
    for target in (cfg.T, cfg.T + 1):
        x = np.zeros(40, np.int64)
        rem, base = abs(int(target)), 0 if target >= 0 else 20  # neg dims lower the score
        for i in range(base, base + 20):
            x[i] = min(rem, 127)
            rem -= x[i]
        if rem == 0:
            rows.append(x)
    return np.clip(np.stack(rows), -128, 127).astype(np.int8)


def sumdiff_rows_ok(rows, cfg) -> bool:
    """Whether the edge rows include scores ``T`` and ``T + 1`` (where reachable)."""
    s = set(sumdiff_score(rows).tolist())
    reach = 20 * 127
    return all(t in s for t in (cfg.T, cfg.T + 1) if abs(t) <= reach)


def person_vectors(cfg, features, labels=None) -> dict[str, np.ndarray]:
    """The tensors of the person reference vectors for ``features`` [n, 768] float."""
    f = np.asarray(features, np.float32)
    q = quantize(f, cfg.scale)
    x40 = np.concatenate([select(q, cfg), person_edge_rows(cfg)])
    out = {
        "features": f,
        "q": q,
        "x40": x40,
        "score": sumdiff_score(x40).astype(np.int32),
        "sumdiff": ref_sumdiff(x40, cfg).astype(np.uint8),
        "popcount": popcount_bits(x40, cfg).sum(-1).astype(np.int32),
        "popcount_decision": ref_popcount(x40, cfg).astype(np.uint8),
    }
    if labels is not None:
        out["labels"] = np.asarray(labels, bool).astype(np.uint8)
    theta = cfg.source.get("float_threshold") if cfg.source else None
    if theta is not None:
        out["float_decision"] = float_sumdiff(f, cfg.pos_dims, cfg.neg_dims,
                                              theta).astype(np.uint8)
    return out


def write_person_vectors(out_dir, cfg, features, labels=None, *, dataset: str,
                         synthetic: bool) -> Path:
    """Write ``person.safetensors`` + ``person.json`` into ``out_dir``; return the JSON path."""
    out_dir = Path(out_dir)
    vec = person_vectors(cfg, features, labels)
    blob = save({k: np.ascontiguousarray(v) for k, v in vec.items()},
                metadata={"format": "vitgates-person-vectors"})
    atomic_write_bytes(out_dir / "person.safetensors", blob)
    n = len(vec["features"])
    meta = {
        "format": "vitgates-person-vectors",
        "version": 1,
        "dataset": dataset,
        "synthetic": synthetic,
        "n_data": n,
        "n_edge": int(len(vec["x40"]) - n),
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in vec.items()},
        "sha256": hashlib.sha256(blob).hexdigest(),
        "config": cfg.to_dict(),
    }
    if "labels" in vec:
        y = vec["labels"].astype(bool)
        for key in ("sumdiff", "popcount_decision"):
            f1, p, r = f1_score(vec[key][:n].astype(bool), y)
            meta[f"f1_{key}"] = round(f1, 4)
        if "float_decision" in vec:
            meta["f1_float"] = round(f1_score(vec["float_decision"].astype(bool), y)[0], 4)
            meta["int8_vs_float_agreement"] = round(
                float(np.mean(vec["float_decision"] == vec["sumdiff"][:n])), 4)
    atomic_write_json(out_dir / "person.json", meta)
    return out_dir / "person.json"


def detector_vectors(grids, head) -> dict[str, np.ndarray]:
    """The INT8 side of the detector reference vectors for float ``grids`` [n, H, W, C]:
    ``q``, ``detections`` and ``int8_band{b}`` (see the module docstring)."""
    g = np.asarray(grids, np.float32)
    q = quantize(g, head.feature_scale)
    B = head.box_rows
    rows, bands = [], [[], [], []]
    for i, qi in enumerate(q):
        d = ref_detect(qi, head)
        cols = [np.full(len(d), i)] + [d[k] for k in ("band", "y", "x", "cls", "acc")]
        if B:
            cols += [d["box"][:, j] for j in range(B)]
        rows.append(np.stack(cols, axis=1) if len(d) else np.zeros((0, 6 + B), np.int64))
        for b, dec in enumerate(decisions(band_accumulators(qi, head), head)):
            bands[b].append(dec)
    assert detection_dtype(B).names[:5] == ("band", "y", "x", "cls", "acc")
    out = {"grid": g, "q": q, "detections": np.concatenate(rows).astype(np.int64)}
    for b in range(3):
        out[f"int8_band{b}"] = np.stack(bands[b]).astype(np.uint8)
    return out


def write_detector_vectors(out_dir, grids, head, float_head=None, *, dataset: str,
                           synthetic: bool) -> Path:
    """Write ``detector.safetensors``, ``detector.json`` and ``detector-head.safetensors``
    into ``out_dir``; return the JSON path."""
    out_dir = Path(out_dir)
    vec = detector_vectors(grids, head)
    meta = {"format": "vitgates-detector-vectors", "version": 1, "dataset": dataset,
            "synthetic": synthetic, "n_grids": int(len(vec["grid"])),
            "n_detections": int(len(vec["detections"])),
            "detection_columns": ["image", "band", "y", "x", "cls", "acc"]
            + [f"box{j}" for j in range(head.box_rows)],
            "score_thresh": float(head.score_thresh),
            "feature_scale": float(head.feature_scale)}
    if float_head is not None:
        fd = [float_decisions(float_head, g, head.score_thresh) for g in vec["grid"]]
        same = total = 0
        for b in range(3):
            vec[f"float_band{b}"] = np.stack([d[b] for d in fd]).astype(np.uint8)
            same += int(np.count_nonzero(vec[f"float_band{b}"] == vec[f"int8_band{b}"]))
            total += vec[f"float_band{b}"].size
        meta["int8_vs_float_agreement"] = same / max(total, 1)
        meta["decisions"] = total
    blob = save({k: np.ascontiguousarray(v) for k, v in vec.items()},
                metadata={"format": "vitgates-detector-vectors"})
    atomic_write_bytes(out_dir / "detector.safetensors", blob)
    save_head(head, out_dir / "detector-head.safetensors")
    meta["tensors"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)}
                       for k, v in vec.items()}
    meta["sha256"] = hashlib.sha256(blob).hexdigest()
    atomic_write_json(out_dir / "detector.json", meta)
    return out_dir / "detector.json"
