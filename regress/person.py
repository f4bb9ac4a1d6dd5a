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

import functools
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
from ..golden.person_config import PersonConfig
from ..golden.person_float import f1_score, sumdiff
from ..golden.quant import quantize
from ..hw.person_classifier import PersonClassifier
from ..reports import reports_dir
from ..sim.gatelevel import SimLevel, design_verilog
from ..sim.harness import Stream
from .plots import confusion_png, pr_curves
from .report import (
    Check,
    LevelRun,
    Regression,
    SimOutcome,
    identical_check,
    not_run_check,
    simulate,
)
from .shards import collect, locate, sim_result

__all__ = ["PooledData", "load_pooled", "load_float_threshold", "person_spec", "regress_person",
           "person_metrics", "shard_person"]


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


def _bits(a) -> str:
    return "".join("1" if v else "0" for v in np.asarray(a, bool).tolist())


def _unbits(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), np.uint8) == ord("1")


@functools.lru_cache(maxsize=4)
def _pooled(features, annotations, n, seed) -> PooledData:
    """:func:`load_pooled`, once per process (a worker runs many shards of one data set)."""
    return load_pooled(features, annotations, n, seed)


def person_spec(form: str, data_opts: dict, cfg, theta: float, sim_levels, opts) -> dict:
    """What a shard of the ``form`` regression needs (JSON: sent to workers, and the
    content the shard store's key is made of)."""
    n_icarus = min(opts.icarus_images, data_opts["n"])
    return {"design": form, "data": data_opts, "config": cfg.to_dict(), "theta": theta,
            "levels": [[lv.level, lv.netlist, lv.simulator] for lv in sim_levels],
            "n_icarus": n_icarus,
            "stimulus": {"pause_in": opts.pause_in, "pause_out": opts.pause_out,
                         "seed": opts.seed}}


def shard_person(spec: dict, shard) -> dict:
    """Run images ``shard.start``..``shard.stop - 1`` of a person regression at every level
    of ``spec`` (:func:`person_spec`): float and INT8 decisions, and the simulations (the
    stall seed of shard k is the run's seed + k). Runs on a worker; returns JSON."""
    form = spec["design"]
    d = spec["data"]
    data = _pooled(d["features"], d["annotations"], d["images"], d["data_seed"])
    cfg = PersonConfig.from_dict(spec["config"])
    ref = {"popcount": ref_popcount, "sumdiff": ref_sumdiff}[form]
    f = data.features[shard.start:shard.stop]
    t = time.perf_counter()
    f_dec = float_sumdiff(f, cfg.pos_dims, cfg.neg_dims, spec["theta"])
    f_time = time.perf_counter() - t
    t = time.perf_counter()
    q = quantize(f, cfg.scale)
    i_dec = ref(select(q, cfg), cfg)
    i_time = time.perf_counter() - t

    n = len(data.labels)
    limits = {"verilator": n, "icarus": spec["n_icarus"]}
    levels = [SimLevel(*lv) for lv in spec["levels"]]
    levels = [lv for lv in levels if limits[lv.simulator] > shard.start]
    name = f"regress-{form}"
    top = PersonClassifier(cfg, form=form, pipeline=PERSON_PIPELINE[form])
    verilog = design_verilog(top, name)

    def items(lv):
        k = min(shard.stop, limits[lv.simulator]) - shard.start
        return [q[:k].reshape(-1)], k, k

    st = spec["stimulus"]
    outcomes, skipped, failed = simulate(
        levels, verilog, name, [Stream("i", 8)], Stream("o", 1), items,
        tag=f"shard{shard.index}",
        run_options={"pause_in": st["pause_in"], "pause_out": st["pause_out"],
                     "seed": st["seed"] + shard.index})
    for oc in outcomes:
        oc.outputs = _bits(oc.outputs)
    return {"float": _bits(f_dec), "int8": _bits(i_dec),
            "seconds": {"float": f_time, "int8": i_time},
            **sim_result(outcomes, skipped, failed)}


def _outcome(lv, got) -> SimOutcome:
    """The whole run of a level from its shards' entries (in shard order)."""
    return SimOutcome(lv, np.concatenate([_unbits(e["outputs"]) for _, e in got]),
                      sum(e["n"] for _, e in got), sum(e["seconds"] for _, e in got),
                      sum(e["build_seconds"] for _, e in got),
                      sum(e["synth_seconds"] for _, e in got),
                      sum(e["cycles"] for _, e in got), got[0][1]["cells"])


def regress_person(form: str, data: PooledData, cfg, theta: float, sim_levels, *, opts,
                   runner, data_opts: dict, prog=None) -> Regression:
    """Run the regression of one person-classifier form in shards (``runner``, a
    :class:`~vitgates.regress.shards.ShardRunner`; ``data_opts``: how a worker loads
    ``data``); return the filled :class:`Regression` (plots written beside the report)."""
    title = {"popcount": "person classifier, popcount form",
             "sumdiff": "person classifier, exact sum-difference form"}[form]
    n = len(data.labels)
    reg = Regression(form, title, data.dataset, data.synthetic, n, ["f1", "precision", "recall"],
                     decision_unit="decisions")
    tag = reg.tag
    labels = data.labels

    spec = person_spec(form, {**data_opts, "n": n}, cfg, theta, sim_levels, opts)
    shards, results = runner.run(shard_person, spec, n, label=f"regress-{form}",
                                 unit="images")
    f_dec = np.concatenate([_unbits(r["float"]) for r in results])
    i_dec = np.concatenate([_unbits(r["int8"]) for r in results])
    f_scores = sumdiff(data.features, cfg.pos_dims, cfg.neg_dims)
    reg.add_level(LevelRun("float", "float (Σpos − Σneg > θ)", n, person_metrics(f_dec, labels),
                           sum(r["seconds"]["float"] for r in results)))
    q = quantize(data.features, cfg.scale)
    x40 = select(q, cfg)
    int8 = reg.add_level(LevelRun("int8", f"INT8 ({form})", n, person_metrics(i_dec, labels),
                                  sum(r["seconds"]["int8"] for r in results)))
    fl = reg.level("float")
    drop = fl.metrics["f1"] - int8.metrics["f1"]
    same = int(np.count_nonzero(i_dec == f_dec))
    reg.add_check(Check("INT8 vs float", n, same, f"F1 drop ≤ {opts.max_metric_drop:g}",
                        drop <= opts.max_metric_drop, f"F1 drop {drop:+.4f}"))

    name = f"regress-{form}"
    n_icarus = spec["n_icarus"]
    ran, skipped, failed = collect(sim_levels, shards, results, "images")
    outcomes = [_outcome(lv, got) for lv, got in ran]
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
        reg.add_check(locate(identical_check(f"{lv.label} vs INT8", dec, i_dec[:k]), shards,
                             "images"))
        if lv.level == "rtl":
            rtl[lv.simulator] = dec
        elif lv.simulator in rtl:
            r = rtl[lv.simulator]
            m = min(len(r), k)
            reg.add_check(locate(identical_check(f"{lv.label} vs RTL ({lv.simulator})",
                                                 dec[:m], r[:m]), shards, "images"))
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
        "shards": {"count": len(shards), "size": runner.sizes["images"]},
    })
    return reg
