"""``vitgates train``: fit the float person classifier or train the float detection head.

::

    vitgates train person   [--cache DIR] -o build/person-float.json [--config person.json]
    vitgates train detector [--cache DIR --ann FILE] -o build/detector-float.safetensors

Without ``--cache`` both train on the SYNTHETIC feature world (and say so in every line and
report). ``train person`` needs no PyTorch; ``train detector`` does. Each writes
``build/reports/train-<model>.json`` and ``.md``.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import VitgatesError
from ..features.cache import FeatureCache
from ..features.synthetic import grid_dataset, pooled_dataset
from ..golden.person import fit_config
from ..golden.person_config import save_person_config
from ..golden.person_float import fit_person
from ..reports import write_report

__all__ = ["configure_parser", "run"]


def configure_parser(parser) -> None:
    sub = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    p = sub.add_parser("person", help="discover the 20+20 dimensions and fit the threshold",
                       description="Fit the 1-parameter person classifier (seed 000) on "
                       "labelled pooled features: a cache with 'pooled' and 'person' arrays, "
                       "or the synthetic pooled set.")
    p.add_argument("--cache", help="feature cache with pooled features and person labels "
                   "(default: the synthetic pooled set)")
    p.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    p.add_argument("-n", type=int, default=5000, help="synthetic set size")
    p.add_argument("-o", "--output", required=True, help="float classifier (JSON)")
    p.add_argument("--config", help="also write the integer person config here (JSON)")

    p = sub.add_parser("detector", help="train the float cofiber linear detection head",
                       description="Train the cofiber linear head (seed 001, linear_70k) "
                       "with the FCOS-style loss on cached grids plus COCO annotations, or "
                       "on the synthetic grid world, then evaluate it with pycocotools.")
    p.add_argument("--cache", help="feature cache with 'grid' arrays")
    p.add_argument("--ann", help="COCO annotation file of the cached images")
    p.add_argument("--eval-cache", help="cache to evaluate on (default: --cache)")
    p.add_argument("--eval-ann", help="annotations of --eval-cache (default: --ann)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", type=int, default=64,
                   help="synthetic: training images (default 64)")
    p.add_argument("--eval-images", type=int, default=16,
                   help="synthetic: held-out evaluation images (default 16)")
    p.add_argument("--epochs", type=float, default=8.0, help="epochs over a cache (default 8)")
    p.add_argument("--steps", type=int, default=None,
                   help="overrides --epochs (synthetic default: 200)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default 64 on a cache (the seed's), 8 on the synthetic world")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; 1 is often fastest on "
                   "a busy machine)")
    p.add_argument("-o", "--output", required=True, help="float head (.safetensors)")


def _person(args) -> int:
    if args.cache:
        cache = FeatureCache.open(args.cache)
        for need in ("pooled", "person"):
            if need not in cache.arrays:
                raise VitgatesError(f"{args.cache}: the cache has no {need!r} array")
        features, labels = cache.load("pooled"), cache.load("person")
        m = cache.manifest
        dataset = f"{m['dataset']} ({m['backbone']}, {m['resolution']} px)"
        synthetic = bool(m["synthetic"])
    else:
        ds = pooled_dataset(n=args.n, seed=args.seed)
        features, labels, dataset, synthetic = ds.features, ds.person, ds.label, True
    tag = " [synthetic]" if synthetic else ""
    clf = fit_person(features, labels, source={"dataset": dataset, "synthetic": synthetic})
    clf.save(args.output)
    m = clf.metrics
    print(f"person classifier{tag}: F1 {m['f1']:.4f} (precision {m['precision']:.4f}, "
          f"recall {m['recall']:.4f}) on {m['n']} images of {dataset}; threshold "
          f"{clf.threshold:.4f}; wrote {args.output}")
    report = {"model": "person-float", "dataset": dataset, "synthetic": synthetic,
              "n_images": m["n"], "f1": m["f1"], "precision": m["precision"],
              "recall": m["recall"], "threshold": clf.threshold, "pos_dims": clf.pos_dims,
              "neg_dims": clf.neg_dims, "output": str(args.output)}
    if args.config:
        cfg = fit_config(features, labels, clf.pos_dims, clf.neg_dims, clf.threshold,
                         source={"dataset": dataset, "synthetic": synthetic})
        save_person_config(cfg, args.config)
        s = cfg.source
        print(f"integer config{tag}: F1 sumdiff {s['f1_sumdiff_int8']:.4f}, popcount "
              f"{s['f1_popcount_int8']:.4f}; wrote {args.config}")
        report["integer"] = {k: s[k] for k in ("f1_sumdiff_int8", "f1_popcount_int8",
                                                "int8_vs_float_agreement") if k in s}
    md = (f"# Person classifier (float){tag}\n\n- data: {dataset}\n- images: {m['n']}\n"
          f"- F1 {m['f1']:.4f}, precision {m['precision']:.4f}, recall {m['recall']:.4f}\n"
          f"- threshold {clf.threshold:.4f}\n")
    write_report("train-person", report, md)
    return 0


def _detector(args) -> int:
    # torch, here and through detector_train: `train person` must run without it
    import torch

    from ..golden.detector_train import (
        TrainConfig,
        cache_source,
        evaluate_head,
        init_head,
        synthetic_source,
        train_head,
    )

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cache:
        if not args.ann:
            raise VitgatesError("--cache needs --ann (the COCO annotation file of its images)")
        cache = FeatureCache.open(args.cache)
        if "grid" not in cache.arrays:
            raise VitgatesError(f"{args.cache}: the cache has no 'grid' array")
        train = cache_source(cache, args.ann)
        ecache = FeatureCache.open(args.eval_cache) if args.eval_cache else cache
        test = cache_source(ecache, args.eval_ann or args.ann)
    else:
        ds = grid_dataset(n_images=args.images + args.eval_images, seed=args.seed)
        train = synthetic_source(ds, ds.image_ids[: args.images])
        test = synthetic_source(ds, ds.image_ids[args.images :])
    synthetic = train.synthetic
    tag = " [synthetic]" if synthetic else ""
    steps, bs = args.steps, args.batch_size
    if synthetic and not args.cache:
        steps, bs = steps or 200, bs or 8
    cfg = TrainConfig(epochs=args.epochs, steps=steps, batch_size=bs or 64, lr=args.lr,
                      seed=args.seed)
    t0 = time.time()
    untrained = evaluate_head(init_head(seed=args.seed), test)
    head = train_head(train, cfg, progress=True, log=lambda s: print(f"train{tag}: {s}"))
    trained = evaluate_head(head, test)
    head.meta["eval"] = trained
    head.save(args.output)
    for name, r in (("untrained", untrained), ("trained", trained)):
        print(f"detector{tag} {name}: mAP {r['map']:.4f} mAP50 {r['map50']:.4f} mAP75 "
              f"{r['map75']:.4f} on {r['n_images']} images of {r['dataset']}")
    print(f"wrote {args.output}")
    report = {"model": "detector-float", "dataset": test.label, "synthetic": synthetic,
              "n_images": trained["n_images"], "map": trained["map"],
              "map50": trained["map50"], "map75": trained["map75"],
              "untrained": untrained, "train": head.meta, "output": str(args.output),
              "seconds": round(time.time() - t0, 1)}
    md = (f"# Cofiber linear head (float){tag}\n\n- train: {train.label}, "
          f"{head.meta['steps']} steps of {head.meta['batch_size']}\n- eval: {test.label}\n\n"
          "| head | mAP | mAP50 | mAP75 |\n|---|---|---|---|\n"
          f"| untrained | {untrained['map']:.4f} | {untrained['map50']:.4f} | "
          f"{untrained['map75']:.4f} |\n| trained | {trained['map']:.4f} | "
          f"{trained['map50']:.4f} | {trained['map75']:.4f} |\n")
    write_report("train-detector", report, md)
    return 0


def run(args) -> int:
    np.seterr(over="ignore")
    if args.model == "person":
        return _person(args)
    if args.model == "detector":
        return _detector(args)
    raise AssertionError(args.model)
