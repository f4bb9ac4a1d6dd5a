"""``vitgates vectors``: write reference vectors (inputs + golden float and integer outputs).

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
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

__all__ = ["configure_parser", "person_edge_rows", "person_vectors", "run",
           "sumdiff_rows_ok", "write_person_vectors"]


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
    from .person import sumdiff_score

    s = set(sumdiff_score(rows).tolist())
    reach = 20 * 127
    return all(t in s for t in (cfg.T, cfg.T + 1) if abs(t) <= reach)


def person_vectors(cfg, features, labels=None) -> dict[str, np.ndarray]:
    """The tensors of the person reference vectors for ``features`` [n, 768] float."""
    from .person import popcount_bits, ref_popcount, ref_sumdiff, select, sumdiff_score
    from .quant import quantize

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
        from .person import float_sumdiff

        out["float_decision"] = float_sumdiff(f, cfg.pos_dims, cfg.neg_dims,
                                              theta).astype(np.uint8)
    return out


def write_person_vectors(out_dir, cfg, features, labels=None, *, dataset: str,
                         synthetic: bool) -> Path:
    """Write ``person.safetensors`` + ``person.json`` into ``out_dir``; return the JSON path."""
    from safetensors.numpy import save

    from ..features.cache import atomic_write_bytes, atomic_write_json

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
        from .person_float import f1_score

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


def configure_parser(parser) -> None:
    sub = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    p = sub.add_parser("person", help="person-classifier vectors")
    p.add_argument("--config", help="person config (default: fitted on the synthetic set)")
    p.add_argument("--cache", help="feature cache with pooled features (default: synthetic)")
    p.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    p.add_argument("-n", type=int, default=512, help="number of data vectors (default 512)")
    p.add_argument("--out", default="build/vectors", help="output folder")


def run(args) -> int:
    from .person import fit_synthetic_config
    from .person_config import load_person_config

    if args.model != "person":
        raise AssertionError(args.model)
    if args.cache:
        from ..features.cache import FeatureCache

        cache = FeatureCache.open(args.cache)
        features = cache.load("pooled")[: args.n]
        labels = cache.load("person")[: args.n] if "person" in cache.arrays else None
        dataset, synthetic = cache.manifest["dataset"], bool(cache.manifest["synthetic"])
    else:
        from ..features.synthetic import pooled_dataset

        ds = pooled_dataset(seed=args.seed)
        features, labels = ds.features[: args.n], ds.person[: args.n]
        dataset, synthetic = ds.label, True
    cfg = (load_person_config(args.config) if args.config
           else fit_synthetic_config(seed=args.seed))
    path = write_person_vectors(args.out, cfg, features, labels, dataset=dataset,
                                synthetic=synthetic)
    meta = json.loads(path.read_text())
    tag = " [synthetic]" if synthetic else ""
    f1 = (f"; F1 sumdiff {meta['f1_sumdiff']:.4f}, popcount {meta['f1_popcount_decision']:.4f}"
          if "f1_sumdiff" in meta else "")
    print(f"person vectors{tag}: {meta['n_data']} data + {meta['n_edge']} edge rows from "
          f"{dataset}{f1}; wrote {path} and {path.with_suffix('.safetensors')}")
    return 0
