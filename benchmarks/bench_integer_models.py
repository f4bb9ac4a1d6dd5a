"""Throughput of the numpy golden models, in images per second (a benchmark, not a test).

    python benchmarks/bench_integer_models.py [--repeat 3]

- person classifier, integer: quantise the pooled feature, select the 40 inputs, both
  decision forms (sum-difference and popcount), over the 5000-image synthetic pooled set;
- detector, integer: the integer cofiber detector of ``vitgates.golden.detector`` on one
  40×40×768 INT8 grid per image, when that module is present;
- detector, float: the float linear head (bands, 84 rows, decoding, NMS) on the same grids,
  for comparison.

All inputs are SYNTHETIC (the embedded feature world). numpy only; no PyTorch.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import time

import numpy as np

__all__ = ["main"]


def _rate(fn, n_images: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n_images / best


def _integer_detector(grids_q):
    """A callable running the integer detector on INT8 grids, or None if unavailable."""
    try:
        det = importlib.import_module("vitgates.golden.detector")
    except ImportError:
        return None, "vitgates.golden.detector not present"
    fn = getattr(det, "ref_detector", None) or getattr(det, "ref_detect", None)
    if fn is None:
        return None, "vitgates.golden.detector has no ref_detector/ref_detect"
    model = None
    for name in ("random_model", "untrained_model", "example_model"):
        if hasattr(det, name):
            model = getattr(det, name)(seed=0) if "seed" in inspect.signature(
                getattr(det, name)).parameters else getattr(det, name)()
            break
    if model is None:
        return None, "no example model constructor found in vitgates.golden.detector"
    return (lambda: [fn(g, model) for g in grids_q]), "golden.detector"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--grids", type=int, default=8, help="grids for the detector runs")
    args = ap.parse_args(argv)

    from vitgates.features.synthetic import grid_dataset, pooled_dataset
    from vitgates.golden.detector_float import FloatDetectorHead
    from vitgates.golden.person import fit_synthetic_config, ref_popcount, ref_sumdiff, select
    from vitgates.golden.quant import quantize

    print("all inputs are synthetic (the embedded feature world)")
    pooled = pooled_dataset()
    cfg = fit_synthetic_config()
    f = pooled.features
    n = len(f)

    def person_sumdiff():
        ref_sumdiff(select(quantize(f, cfg.scale), cfg), cfg)

    def person_popcount():
        ref_popcount(select(quantize(f, cfg.scale), cfg), cfg)

    q40 = select(quantize(f, cfg.scale), cfg)
    for name, fn in (("person sumdiff  (quantise+select+decide)", person_sumdiff),
                     ("person popcount (quantise+select+decide)", person_popcount),
                     ("person sumdiff  (40 INT8 inputs only)   ", lambda: ref_sumdiff(q40, cfg)),
                     ("person popcount (40 INT8 inputs only)   ",
                      lambda: ref_popcount(q40, cfg))):
        print(f"{name} {_rate(fn, n, args.repeat):>14,.0f} images/s")

    ds = grid_dataset(n_images=args.grids)
    grids = [ds.grid(int(i)) for i in ds.image_ids]
    scale = float(np.percentile(np.abs(grids[0]), 99.9)) / 127
    grids_q = [quantize(g, scale) for g in grids]
    run, what = _integer_detector(grids_q)
    if run is None:
        print(f"detector integer: skipped ({what})")
    else:
        print(f"detector integer ({what}, 40x40x768) "
              f"{_rate(run, len(grids_q), args.repeat):>12,.2f} images/s")
    rng = np.random.default_rng(0)
    head = FloatDetectorHead(rng.normal(0, 0.01, (84, 768)), np.full(84, -4.6))
    print(f"detector float head (40x40x768)          "
          f"{_rate(lambda: [head.detect(g) for g in grids], len(grids), args.repeat):>12,.2f}"
          " images/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
