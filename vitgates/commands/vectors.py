"""``vitgates vectors``: write reference vectors (inputs + golden float and integer outputs).

::

    vitgates vectors person [--config CFG] [--cache DIR] [-n N] [--out build/vectors]
    vitgates vectors detector [--head INT8.safetensors] [--float FLOAT.safetensors] [-n N]

The files and their tensors are described in :mod:`vitgates.golden.reference_vectors`.
numpy only.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import VitgatesError
from ..features.cache import FeatureCache
from ..features.synthetic import grid_dataset, pooled_dataset
from ..golden.detector import lstsq_head, quantize_head
from ..golden.detector_float import FloatDetectorHead, choose_feature_scale
from ..golden.detector_head import load_head
from ..golden.person import fit_synthetic_config
from ..golden.person_config import load_person_config
from ..golden.reference_vectors import write_detector_vectors, write_person_vectors
from ..paths import build_path

__all__ = ["configure_parser", "run"]


def _detector_run(args) -> int:
    if args.n < 1:
        raise VitgatesError(f"-n must be at least 1, got {args.n}")
    ds = grid_dataset(n_images=args.n, seed=args.seed)
    grids = np.stack([ds.grid(int(i)) for i in ds.image_ids])
    if args.float:
        fh = FloatDetectorHead.load(args.float)
    else:
        fh = lstsq_head(grid_dataset(n_images=32, seed=args.seed, first_id=100_001))
    if args.head:
        h8 = load_head(args.head)
    else:
        h8 = quantize_head(fh.weight[:84], fh.bias[:84], choose_feature_scale(grids),
                           args.score_thresh, meta={"source": "reference vectors"})
    path = write_detector_vectors(_out(args), grids, h8, fh, dataset=ds.label, synthetic=True)
    meta = json.loads(path.read_text())
    print(f"detector vectors [synthetic]: {meta['n_grids']} grids of {ds.label}, "
          f"{meta['n_detections']} INT8 detections, INT8 vs float "
          f"{100 * meta['int8_vs_float_agreement']:.4f} % of {meta['decisions']} decisions; "
          f"wrote {path}")
    return 0


def _out(args):
    return args.out or build_path("vectors")


def configure_parser(parser) -> None:
    sub = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    p = sub.add_parser("person", help="person-classifier vectors")
    p.add_argument("--config", help="person config (default: fitted on the synthetic set)")
    p.add_argument("--cache", help="feature cache with pooled features (default: synthetic)")
    p.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    p.add_argument("-n", type=int, default=512, help="number of data vectors (default 512)")
    p.add_argument("--out", default=None,
                   help="output folder (default: build/vectors under $VITGATES_BUILD)")
    d = sub.add_parser("detector", help="cofiber detector vectors (synthetic grids)")
    d.add_argument("--head", help="INT8 detector weight file (default: from the float head)")
    d.add_argument("--float", help="float detection head (default: fitted in closed form "
                   "on 32 other synthetic images)")
    d.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    d.add_argument("-n", type=int, default=2, help="number of grids (default 2)")
    d.add_argument("--score-thresh", type=float, default=0.05, help="score cut (default 0.05)")
    d.add_argument("--out", default=None,
                   help="output folder (default: build/vectors under $VITGATES_BUILD)")


def run(args) -> int:
    if args.model == "detector":
        return _detector_run(args)
    if args.cache:
        cache = FeatureCache.open(args.cache)
        features = cache.load("pooled")[: args.n]
        labels = cache.load("person")[: args.n] if "person" in cache.arrays else None
        dataset, synthetic = cache.manifest["dataset"], bool(cache.manifest["synthetic"])
    else:
        ds = pooled_dataset(seed=args.seed)
        features, labels = ds.features[: args.n], ds.person[: args.n]
        dataset, synthetic = ds.label, True
    cfg = (load_person_config(args.config) if args.config
           else fit_synthetic_config(seed=args.seed))
    path = write_person_vectors(_out(args), cfg, features, labels, dataset=dataset,
                                synthetic=synthetic)
    meta = json.loads(path.read_text())
    tag = " [synthetic]" if synthetic else ""
    f1 = (f"; F1 sumdiff {meta['f1_sumdiff']:.4f}, popcount {meta['f1_popcount_decision']:.4f}"
          if "f1_sumdiff" in meta else "")
    print(f"person vectors{tag}: {meta['n_data']} data + {meta['n_edge']} edge rows from "
          f"{dataset}{f1}; wrote {path} and {path.with_suffix('.safetensors')}")
    return 0
