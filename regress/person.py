"""The person-classifier regression: float, INT8, RTL and gate-level decisions on pooled
features, F1, agreement tables and plots (``regress-popcount``, ``regress-sumdiff``).

- **float**: the float classifier of seed 000, ``Σ f[pos] − Σ f[neg] > θ`` on the float
  pooled features (θ from ``--person-float``, or the ``float_threshold`` the config records).
- **INT8**: the golden integer model of the design's form (``ref_popcount`` or
  ``ref_sumdiff``) on the quantised features: the specification.
- **RTL / gate**: :class:`~vitgates.hw.person_classifier.PersonClassifier` reading all 768
  INT8 channels of every image as a byte stream, in Verilator (every image) and Icarus
  (the first ``--icarus-images``), as Amaranth's Verilog and as the iCE40, ECP5 and
  generic netlists; random idle cycles on the input and back-pressure on the output.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VitgatesError
from ..features.cache import FeatureCache
from ..features.coco import load_coco, person_labels
from ..features.synthetic import pooled_dataset
from ..fpga.person_design import PERSON_PIPELINE
from ..golden.person import (
    float_sumdiff,
    popcount_bits,
    ref_popcount,
    ref_sumdiff,
    select,
    sumdiff_score,
)
from ..golden.person_float import f1_score, sumdiff
from ..golden.quant import quantize
from ..hw.person_classifier import PersonClassifier
from ..reports import reports_dir
from ..sim.gatelevel import design_verilog
from ..sim.harness import Stream
from .plots import confusion_png, pr_curves
from .report import (
    Check,
    LevelRun,
    Regression,
    identical_check,
    not_run_check,
    simulate,
)

__all__ = ["PooledData", "load_pooled", "load_float_threshold", "regress_person",
           "person_metrics"]


@dataclass
class PooledData:
    """Pooled features [n, D] float32, person labels [n] bool, ids, and what they are."""

    features: np.ndarray
    labels: np.ndarray
    image_ids: np.ndarray
    dataset: str
    synthetic: bool


def load_pooled(features=None, annotations=None, n=None, seed: int = 0) -> PooledData:
    """Pooled features with person labels: the synthetic set, or a feature cache.

    A cache must hold ``pooled``; labels come from ``annotations`` (a COCO file: an image
    shows a person when it has a person annotation) or else from its ``person`` array.
    ``n`` keeps the first ``n`` images.
    """
    if features is None:
        ds = pooled_dataset(n=n or 5000, seed=seed)
        return PooledData(ds.features, ds.person, ds.image_ids, ds.label, True)

    cache = FeatureCache.open(features)
    if "pooled" not in cache.arrays:
        raise VitgatesError(f"{features}: the cache has no 'pooled' array")
    f = cache.load("pooled")
    ids = cache.load("image_ids")
    if annotations is not None:
        labels = person_labels(load_coco(annotations), ids)
    elif "person" in cache.arrays:
        labels = cache.load("person").astype(bool)
    else:
        raise VitgatesError(f"{features}: the cache has no 'person' labels; pass "
                            "--annotations")
    if n is not None:
        f, labels, ids = f[:n], labels[:n], ids[:n]
    m = cache.manifest
    name = f"{m['dataset']} ({m['backbone']}, {m['resolution']} px)"
    if m["synthetic"] and "synthetic" not in name:
        name += " (synthetic)"
    return PooledData(np.asarray(f, np.float32), np.asarray(labels, bool), ids, name,
                      bool(m["synthetic"]))


def load_float_threshold(cfg, float_file=None) -> float:
    """θ of the float classifier that goes with ``cfg``: from a float-classifier JSON
    (``vitgates train person -o``), whose dimensions must be the config's, or from the
    config's own record of it."""
    if float_file is not None:
        path = Path(float_file)
        try:
            d = json.loads(path.read_text())
            theta = float(d["threshold"])
            pos, neg = list(d["pos_dims"]), list(d["neg_dims"])
        except FileNotFoundError:
            raise VitgatesError(f"{path}: no such file") from None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise VitgatesError(f"{path}: not a float person classifier ({e})") from None
        if sorted(pos) != sorted(cfg.pos_dims) or sorted(neg) != sorted(cfg.neg_dims):
            raise VitgatesError(f"{path}: its dimensions are not the config's")
        return theta
    theta = cfg.source.get("float_threshold")
    if theta is None:
        raise VitgatesError("the person config records no float threshold; pass "
                            "--person-float (the float classifier it was derived from)")
    return float(theta)


def person_metrics(pred, labels) -> dict:
    f1, p, r = f1_score(pred, labels)
    return {"f1": f1, "precision": p, "recall": r}


def _confusion(pred, labels) -> dict:
    p = np.asarray(pred, bool)
    y = np.asarray(labels, bool)
    return {"tp": int(np.sum(p & y)), "fp": int(np.sum(p & ~y)),
            "fn": int(np.sum(~p & y)), "tn": int(np.sum(~p & ~y))}


def regress_person(form: str, data: PooledData, cfg, theta: float, sim_levels, *, opts,
                   prog=None) -> Regression:
    """Run the regression of one person-classifier form; return the filled
    :class:`Regression` (plots written beside the report)."""
    ref = {"popcount": ref_popcount, "sumdiff": ref_sumdiff}[form]
    title = {"popcount": "person classifier, popcount form",
             "sumdiff": "person classifier, exact sum-difference form"}[form]
    n = len(data.labels)
    reg = Regression(form, title, data.dataset, data.synthetic, n, ["f1", "precision", "recall"],
                     decision_unit="decisions")
    tag = reg.tag
    labels = data.labels

    t = time.perf_counter()
    f_scores = sumdiff(data.features, cfg.pos_dims, cfg.neg_dims)
    f_dec = float_sumdiff(data.features, cfg.pos_dims, cfg.neg_dims, theta)
    reg.add_level(LevelRun("float", "float (Σpos − Σneg > θ)", n, person_metrics(f_dec, labels),
                           time.perf_counter() - t))

    t = time.perf_counter()
    q = quantize(data.features, cfg.scale)
    x40 = select(q, cfg)
    i_dec = ref(x40, cfg)
    int8 = reg.add_level(LevelRun("int8", f"INT8 ({form})", n, person_metrics(i_dec, labels),
                                  time.perf_counter() - t))
    fl = reg.level("float")
    drop = fl.metrics["f1"] - int8.metrics["f1"]
    same = int(np.count_nonzero(i_dec == f_dec))
    reg.add_check(Check("INT8 vs float", n, same, f"F1 drop ≤ {opts.max_metric_drop:g}",
                        drop <= opts.max_metric_drop, f"F1 drop {drop:+.4f}"))

    name = f"regress-{form}"
    top = PersonClassifier(cfg, form=form, pipeline=PERSON_PIPELINE[form])
    verilog = design_verilog(top, name)
    stream = q.reshape(-1)
    n_icarus = min(n, opts.icarus_images)

    def items(lv):
        k = n if lv.simulator == "verilator" else n_icarus
        return [stream[: k * cfg.feature_dim]], k, k

    outcomes, skipped, failed = simulate(
        sim_levels, verilog, name, [Stream("i", 8)], Stream("o", 1), items, prog=prog, tag=tag,
        run_options={"pause_in": opts.pause_in, "pause_out": opts.pause_out,
                     "seed": opts.seed})
    rtl = {}
    for oc in outcomes:
        lv = oc.level
        dec = np.asarray(oc.outputs, bool)
        k = oc.n_images
        reg.add_level(LevelRun(
            lv.level, lv.label, k, person_metrics(dec, labels[:k]), oc.seconds,
            netlist=lv.netlist, simulator=lv.simulator,
            extra={"cells": oc.cells, "synth_seconds": round(oc.synth_seconds, 2),
                   "build_seconds": round(oc.build_seconds, 2), "cycles": oc.cycles,
                   "cycles_per_image": round(oc.cycles / max(k, 1), 2)}))
        reg.add_check(identical_check(f"{lv.label} vs INT8", dec, i_dec[:k]))
        if lv.level == "rtl":
            rtl[lv.simulator] = dec
        elif lv.simulator in rtl:
            r = rtl[lv.simulator]
            m = min(len(r), k)
            reg.add_check(identical_check(f"{lv.label} vs RTL ({lv.simulator})", dec[:m], r[:m]))
    for lv, reason in failed:
        reg.add_check(Check(f"{lv.label} vs INT8", n, 0, "identical", False, reason))
    for lv, reason in skipped:
        reg.add_check(not_run_check(f"{lv.label} vs INT8", reason))
        reg.info.setdefault("not_simulated", []).append({"level": lv.label, "reason": reason})

    # plots: PR of float and INT8 scores; the deciding levels as points
    top_run = reg.top_level()
    gate_dec = next((np.asarray(oc.outputs, bool) for oc in outcomes
                     if oc.level.level == top_run.level and oc.n_images == n), i_dec)
    d = reports_dir()
    curves = {"float Σpos − Σneg": (f_scores, labels),
              "INT8 Σpos − Σneg": (sumdiff_score(x40), labels)}
    if form == "popcount":
        curves["INT8 popcount"] = (popcount_bits(x40, cfg).sum(-1), labels)
    points = {"float at θ": (fl.metrics["precision"], fl.metrics["recall"]),
              f"{top_run.label}": (top_run.metrics["precision"], top_run.metrics["recall"])}
    syn = " — SYNTHETIC data" if data.synthetic else ""
    reg.plots["precision_recall"] = pr_curves(
        d / f"{name}-pr.png", curves, points, f"{title}: precision–recall{syn}")
    cm = _confusion(gate_dec, labels)
    reg.plots["confusion"] = confusion_png(
        d / f"{name}-confusion.png", cm["tp"], cm["fp"], cm["fn"], cm["tn"],
        f"{top_run.label}, {n} images{syn}")
    reg.info["confusion"] = {"level": top_run.label, **cm}
    reg.sections += [
        "", f"## Confusion table ({top_run.label}){tag}", "",
        "| | person | no person |", "|---|---|---|",
        f"| predicted person | {cm['tp']} | {cm['fp']} |",
        f"| predicted no person | {cm['fn']} | {cm['tn']} |",
    ]
    reg.info.update({
        "form": form,
        "pipeline": PERSON_PIPELINE[form],
        "config": {k: v for k, v in cfg.to_dict().items() if k != "source"},
        "float_threshold": theta,
        "stimulus": {"pause_in": opts.pause_in, "pause_out": opts.pause_out,
                     "seed": opts.seed, "icarus_images": n_icarus},
    })
    return reg
