"""The cofiber-detector regression: float, INT8, RTL and gate-level detections on feature
grids, COCO mAP through pycocotools, agreement tables and plots (``regress-detector``).

- **float**: the float linear head on the float cofiber bands
  (:meth:`~vitgates.golden.detector_float.FloatDetectorHead.detect`: score > the cut,
  per-class NMS at IoU 0.5, at most 100 per image).
- **INT8**: the golden integer model (:func:`~vitgates.golden.detector.ref_detect`) on the
  quantised grid: the sparse detection records, decoded on the host
  (:func:`~vitgates.golden.detector.decode_detections`) and put through the same NMS.
- **RTL / gate**: :class:`~vitgates.hw.cofiber_detector.CofiberDetector` at the wide
  simulation folding (RTL and the ``generic-dsp`` netlist, whose multipliers are hard cells:
  the profiles ``rtl`` and ``generic-dsp`` of :mod:`vitgates.hw.detector_profile`) and at
  the narrower gate-level folding (the all-gates ``generic`` netlist and the vendor ones:
  the profile ``gate``, :func:`gate_folding`):
  the weights written through ``w_write``, the thresholds through ``t_write``
  (derived for the regression's low score cut: the threshold register is set low so that
  mAP sees the whole precision–recall curve), then every frame; its records are compared
  with the INT8 model's, field by field and in order, and decoded the same way.

Without ``--features`` the grids are the synthetic grid world and the float head is fitted
on other synthetic images in closed form (:func:`~vitgates.golden.detector.lstsq_head`,
numpy, no PyTorch).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from amaranth.lib import data
from pycocotools.cocoeval import COCOeval

from ..errors import VitgatesError
from ..features.cache import FeatureCache
from ..features.coco import COCO_CATEGORIES, coco_from_dict, gt_boxes, load_coco
from ..features.synthetic import grid_dataset
from ..fileio import atomic_write_text, locked
from ..golden import detector as gd
from ..golden.cofiber import to_stream
from ..golden.detector import (
    decision_agreement,
    decode_detections,
    detection_dtype,
    lstsq_head,
    pack_thresholds,
    pack_weights,
    quantize_head,
    ref_detect,
    with_score_thresh,
)
from ..golden.detector_float import (
    Detections,
    FloatDetectorHead,
    choose_feature_scale,
    detections_to_coco,
    per_class_nms,
)
from ..golden.detector_head import load_head
from ..golden.payload import field_specs, pack_payloads, unpack_payloads
from ..golden.quant import quantize
from ..hw.cofiber_detector import CofiberDetector
from ..hw.detector_profile import PROFILES, detector_profile
from ..reports import reports_dir
from ..sim.gatelevel import SimLevel, design_verilog, prepare_harness
from ..sim.harness import Stream
from ..sim.runner import build_dir
from .plots import detection_grid_png, map_pr_png
from .report import Check, LevelRun, Regression, not_run_check, simulate
from .shards import (
    code_fingerprint,
    collect,
    content_key,
    file_fingerprint,
    locate,
    pack_array,
    sim_result,
    tool_fingerprint,
    unpack_array,
)

__all__ = [
    "DETECTOR_DESIGNS",
    "GATE_OPT_FAST",
    "GridData",
    "add_head_options",
    "available",
    "benchmark",
    "coco_eval",
    "coco_results",
    "compare_records",
    "detector_heads",
    "detector_spec",
    "detector_stimulus",
    "gate_folding",
    "load_grids",
    "postprocess",
    "regress_detector",
    "sim_fifo_depth",
    "shard_detector",
    "sim_folding",
]

DETECTOR_DESIGNS = ("detector",)
#: C++ optimisation of a detector netlist's per-cycle code (Harness ``opt_fast``): at 4,4,4
#: the generic netlist builds in ~65 s at -O1 against ~120 s at -O2 and runs a frame in the
#: same ~30 s
GATE_OPT_FAST = "-O1"


def available() -> bool:
    """Whether the detector's hardware and integer model are part of this installation:
    always, now that this module imports both at its top."""
    return True


def add_head_options(parser) -> None:
    """The detector-head options that ``vitgates regress`` and ``vitgates host`` share
    (read by :func:`detector_heads`)."""
    parser.add_argument("--detector-float", metavar="FILE",
                        help="detector: float detection head (safetensors, vitgates train "
                        "detector); default on synthetic data: fitted in closed form")
    parser.add_argument("--detector-head", metavar="FILE",
                        help="detector: INT8 detection head (default: quantised from the "
                        "float head)")
    parser.add_argument("--score-thresh", type=float, default=0.05,
                        help="detector: score cut written to the threshold registers for mAP "
                        "(default 0.05)")


def sim_folding(spec: str | None = None):
    """The MAC-array folding the regression simulates: ``spec`` ("P,R,L"), else the
    folding of the ``rtl`` profile (:mod:`vitgates.hw.detector_profile`)."""
    if spec:
        try:
            p, r, lanes = (int(v) for v in spec.split(","))
            return gd.Folding(p, r, lanes)
        except ValueError as e:
            raise VitgatesError(f"--detector-folding: expected P,R,L, got {spec!r} ({e})") \
                from None
    return detector_profile("rtl").folding


def gate_folding(spec: str | None = None, rtl_spec: str | None = None):
    """The MAC-array folding of the gate-level runs: ``spec`` ("P,R,L",
    ``--detector-gate-folding``), else ``rtl_spec`` (``--detector-folding``, when one was
    named: then RTL and netlists share it), else the folding of the ``gate`` profile
    (:mod:`vitgates.hw.detector_profile`)."""
    if spec:
        try:
            p, r, lanes = (int(v) for v in spec.split(","))
            return gd.Folding(p, r, lanes)
        except ValueError as e:
            raise VitgatesError(f"--detector-gate-folding: expected P,R,L, got {spec!r} "
                                f"({e})") from None
    if rtl_spec:
        return sim_folding(rtl_spec)
    return detector_profile("gate").folding


# -- data --------------------------------------------------------------------------------------


@dataclass
class GridData:
    """Feature grids to evaluate on, with their COCO ground truth."""

    image_ids: np.ndarray
    grid: Callable[[int], np.ndarray]
    coco: object  # a pycocotools COCO index
    dataset: str
    synthetic: bool
    grid_hw: tuple
    image_size: int
    letterbox: dict = field(default_factory=dict)

    def scale(self, image_id: int) -> float:
        return float(self.letterbox.get(int(image_id), 1.0))


def load_grids(features=None, annotations=None, n=None, seed: int = 0) -> GridData:
    """The synthetic grid world (images 1..n), or the first ``n`` grids of a cache with
    ``annotations`` (default: the ``annotations.json`` a synthetic grid cache carries)."""
    if features is None:
        ds = grid_dataset(n_images=n or 4, seed=seed)
        return GridData(ds.image_ids, ds.grid, coco_from_dict(ds.coco), ds.label, True,
                        ds.grid_hw, ds.image_size)

    cache = FeatureCache.open(features)
    if "grid" not in cache.arrays:
        raise VitgatesError(f"{features}: the cache has no 'grid' array")
    ann = annotations
    if ann is None:
        extra = cache.manifest.get("extra", {}).get("annotations")
        if extra:
            ann = Path(features) / extra
    if ann is None:
        raise VitgatesError(f"{features}: pass --annotations (the COCO file of its images)")
    coco = load_coco(ann)
    # grids are read when asked for, one cache file at a time (a COCO grid is 4.9 MB:
    # 5,000 of them do not fit in a worker's memory, and a shard needs only its own)
    where = {}
    for k, entry in enumerate(cache.shards):
        for row, i in enumerate(entry["image_ids"]):
            where[int(i)] = (k, row)
    ids = np.asarray(cache.image_ids[: n or len(cache)], np.int64)
    if len(ids) == 0:
        raise VitgatesError(f"{features}: the cache holds no images")
    scales = {}
    if "letterbox_scale" in cache.arrays:
        ls = cache.load("letterbox_scale")
        scales = {int(i): float(v) for i, v in zip(cache.image_ids, ls, strict=True)}

    @functools.lru_cache(maxsize=1)
    def cache_file(k: int) -> np.ndarray:
        return cache.read_shard(k, ["grid"])["grid"]

    def grid(i) -> np.ndarray:
        k, row = where[int(i)]
        return np.asarray(cache_file(k)[row], np.float32)

    H, W = cache.arrays["grid"]["shape"][:2]
    m = cache.manifest
    name = f"{m['dataset']} ({m['backbone']}, {m['resolution']} px)"
    if m["synthetic"] and "synthetic" not in name:
        name += " (synthetic)"
    return GridData(ids, grid, coco, name, bool(m["synthetic"]), (H, W),
                    int(m["resolution"]), scales)


def detector_heads(opts, data: GridData, score_thresh: float):
    """``(float head, INT8 head with thresholds for score_thresh, provenance)`` as the
    options of :func:`add_head_options` name them: the float head of ``--detector-float``,
    else (synthetic data, no ``--features``) one fitted in closed form on other synthetic
    images; the INT8 head of ``--detector-head``, else the float head quantised at a feature
    scale chosen on the first grids of ``data``."""
    f_path = getattr(opts, "detector_float", None)
    i_path = getattr(opts, "detector_head", None)
    if f_path:
        fh = FloatDetectorHead.load(f_path)
        source = f"float head {f_path}"
    elif data.synthetic and not getattr(opts, "features", None):
        train = grid_dataset(n_images=32, seed=opts.data_seed, first_id=100_001)
        fh = lstsq_head(train)
        source = ("float head fitted in closed form on 32 other synthetic images "
                  "(ids 100001..100032)")
    else:
        raise VitgatesError("pass --detector-float (the float detection head to evaluate)")
    if i_path:
        h8 = load_head(i_path)
        source += f"; INT8 head {i_path}"
    else:
        sample = np.stack([data.grid(int(i)) for i in data.image_ids[:8]])
        h8 = quantize_head(fh.weight[:84], fh.bias[:84], choose_feature_scale(sample),
                           score_thresh, meta={"source": source})
    return fh, with_score_thresh(h8, score_thresh), source


# -- host-side decoding and evaluation --------------------------------------------------------


def postprocess(det, *, nms_iou: float = 0.5, max_det: int = 100, pre_nms: int = 1000):
    """The float head's protocol on decoded detections: the ``pre_nms`` best per band,
    per-class NMS, the ``max_det`` best (as
    :meth:`~vitgates.golden.detector_float.FloatDetectorHead.detect_raw`)."""
    keep_band = []
    for b in np.unique(det.bands):
        idx = np.flatnonzero(det.bands == b)
        if idx.size > pre_nms:
            idx = idx[np.argsort(-det.scores[idx], kind="stable")[:pre_nms]]
        keep_band.append(idx)
    if not keep_band:
        return det
    sel = np.concatenate(keep_band)
    return per_class_nms(det.boxes[sel], det.scores[sel], det.classes[sel], det.bands[sel],
                         nms_iou, max_det)


def coco_eval(coco_gt, results: list, image_ids) -> tuple[dict, tuple]:
    """pycocotools bbox evaluation: ``({"map", "map50", "map75"}, (recall [101],
    precision [101]))``, the curve at IoU 0.5 over all areas, averaged over the classes
    that have ground truth."""
    rec = np.linspace(0, 1, 101)
    if not results:
        return {"map": 0.0, "map50": 0.0, "map75": 0.0}, (rec, np.zeros(101))
    with contextlib.redirect_stdout(io.StringIO()):
        dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, dt, "bbox")
        ev.params.imgIds = [int(i) for i in image_ids]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    p = ev.eval["precision"][0, :, :, 0, -1]  # IoU 0.5, all recalls, classes, all areas, 100
    valid = (p > -1).any(axis=0)
    curve = p[:, valid].clip(min=0).mean(axis=1) if valid.any() else np.zeros(101)
    return ({"map": max(float(s[0]), 0.0), "map50": max(float(s[1]), 0.0),
             "map75": max(float(s[2]), 0.0)}, (rec, curve))


# -- the hardware's stimulus ------------------------------------------------------------------


@dataclass
class DetectorStimulus:
    """What the harness streams into a :class:`CofiberDetector` and how to read what comes
    out: ``streams`` (w_write, t_write, i), their payload integers or bytes, and the
    output layout."""

    det: object
    streams: list
    output: object
    weights: list
    thresholds: list
    out_layout: object
    end_bit: int

    def items(self, frames_q) -> list:
        blob = b"".join(np.ascontiguousarray(to_stream(q), np.int8).tobytes() for q in frames_q)
        return [self.weights, self.thresholds, blob]

    def records(self, outputs) -> list:
        """Per frame, the records (structured, :func:`~vitgates.golden.detector.
        detection_dtype`) the hardware emitted, end records removed."""
        f = unpack_payloads(self.out_layout, outputs)
        B = self.det.box_rows
        frames, start = [], 0
        ends = np.flatnonzero(f["end"] == 1)
        for e in ends.tolist():
            rec = np.zeros(e - start, detection_dtype(B))
            for name in rec.dtype.names:
                rec[name] = f[name][start:e]
            frames.append(rec)
            start = e + 1
        if start != len(outputs):
            raise VitgatesError(f"{len(outputs) - start} records after the last frame end")
        return frames


def sim_fifo_depth(folding, channels: int, n_rows: int) -> int:
    """FIFO entries between the classifier and the bands for a simulated ``folding``:
    the FIFO of the ``rtl`` profile (:mod:`vitgates.hw.detector_profile`) where the
    classifier is fast enough to wait on the bands stage (its cycles per 4×4 block under
    twice the bands stage's ``16·R/P + 21·R``, as in that profile), else none (the narrow
    foldings never wait)."""
    P = folding.pixels
    classifier = (16 // P) * folding.words_per_pass(channels) * folding.passes(n_rows)
    bands = 16 * n_rows // P + 21 * n_rows
    return detector_profile("rtl").fifo_depth if classifier < 2 * bands else 0


def detector_stimulus(h8, grid_hw, folding) -> DetectorStimulus:
    """The detector at ``folding`` for ``h8`` on ``grid_hw`` grids, and its write streams
    (with the FIFO of :func:`sim_fifo_depth`)."""
    det = CofiberDetector(grid=tuple(grid_hw), channels=h8.channels, n_classes=h8.n_classes,
                          box_rows=h8.box_rows, folding=folding,
                          fifo_depth=sim_fifo_depth(folding, h8.channels, h8.rows))
    wl = data.Layout.cast(det.w_write.payload.shape())
    tl = data.Layout.cast(det.t_write.payload.shape())
    ol = data.Layout.cast(det.o.payload.shape())
    il = data.Layout.cast(det.i.payload.shape())
    weights = pack_payloads(wl, pack_weights(h8, folding))
    thresholds = pack_payloads(tl, pack_thresholds(h8))
    end = next(s for s in field_specs(ol) if s[0] == "end")
    streams = [Stream("w_write", wl.size), Stream("t_write", tl.size), Stream("i", il.size)]
    return DetectorStimulus(det, streams, Stream("o", ol.size), weights, thresholds, ol, end[1])


def compare_records(step: str, got: list, want: list) -> Check:
    """The check ``step``: the detection records of every frame in ``got`` against those of
    ``want`` (per frame, arrays of :func:`~vitgates.golden.detector.detection_dtype`), field
    by field and in order; the note names the first difference."""
    compared = identical = 0
    note = ""
    for f, (g, w) in enumerate(zip(got, want, strict=False)):
        n = min(len(g), len(w))
        same = np.ones(n, bool)
        for name in w.dtype.names:
            a, b = g[name][:n], w[name][:n]
            same &= (a == b).reshape(n, -1).all(axis=1)
        compared += max(len(g), len(w))
        identical += int(same.sum())
        if not note and (not same.all() or len(g) != len(w)):
            k = int(np.flatnonzero(~same)[0]) if not same.all() else n
            note = (f"frame {f}: {len(g)} records for {len(w)}; first difference at record "
                    f"{k}")
    if len(got) != len(want):
        note = note or f"{len(got)} frames for {len(want)}"
        compared += sum(len(w) for w in want[len(got):])
    return Check(step, compared, identical, "identical",
                 identical == compared and len(got) == len(want), note)


def coco_results(image_id, det, scale) -> list:
    """Decoded detections ``det`` of one image as pycocotools results, boxes scaled by
    ``scale`` (:func:`~vitgates.golden.detector_float.detections_to_coco`)."""
    return detections_to_coco(int(image_id), det, scale)


# -- the regression ---------------------------------------------------------------------------


def _pack_dets(d) -> dict:
    return {k: pack_array(getattr(d, k)) for k in ("boxes", "scores", "classes", "bands")}


def _unpack_dets(d: dict) -> Detections:
    return Detections(*(unpack_array(d[k]) for k in ("boxes", "scores", "classes", "bands")))


def detector_spec(design: str, sim_levels, opts) -> dict:
    """What a shard of the detector regression needs (JSON: sent to workers, and the
    content the shard store's key is made of)."""
    feats = getattr(opts, "features", None)
    ann = getattr(opts, "annotations", None)
    f_path = getattr(opts, "detector_float", None)
    h_path = getattr(opts, "detector_head", None)
    return {"design": design,
            "data": {"features": None if feats is None else str(feats),
                     "annotations": None if ann is None else str(ann),
                     "n": opts.detector_images, "data_seed": opts.data_seed,
                     "content": [file_fingerprint(feats), file_fingerprint(ann)]},
            "head": {"detector_float": f_path, "detector_head": h_path,
                     "score_thresh": opts.score_thresh,
                     "content": [file_fingerprint(f_path), file_fingerprint(h_path)]},
            "folding": getattr(opts, "detector_folding", None),
            "gate_folding": getattr(opts, "detector_gate_folding", None),
            "levels": [[lv.level, lv.netlist, lv.simulator] for lv in sim_levels],
            "icarus_images": opts.detector_icarus_images,
            "stimulus": {"pause_in": opts.pause_in, "pause_out": opts.pause_out,
                         "seed": opts.seed}}


@functools.lru_cache(maxsize=2)
def _setup(key: str):
    """Data and heads of a detector spec (``key``: its data and head, as JSON), once per
    process."""
    spec = json.loads(key)
    d, h = spec["data"], spec["head"]
    data = load_grids(d["features"], d["annotations"], d["n"], d["data_seed"])
    opts = argparse.Namespace(detector_float=h["detector_float"],
                              detector_head=h["detector_head"], features=d["features"],
                              data_seed=d["data_seed"])
    return (data, *detector_heads(opts, data, h["score_thresh"]))


@functools.lru_cache(maxsize=4)
def _design(key: str, fold, design: str, base: str):
    """The detector at ``fold`` and its Verilog: converted once per machine (the Verilog of
    the same inputs and code is kept beside a stamp of their content key; the workers of
    a machine wait on its lock and reuse it), the component once per process."""
    data, _, h8, _ = _setup(key)
    stim = detector_stimulus(h8, data.grid_hw, fold)
    stamp_key = content_key(key, [fold.pixels, fold.rows, fold.lanes], base,
                            code_fingerprint(), tool_fingerprint())
    folder = build_dir("designs", base)
    stamp = folder / "top.key"
    with locked(folder):
        if stamp.exists() and stamp.read_text() == stamp_key and (folder / "top.v").exists():
            return stim, folder / "top.v"
        stamp.unlink(missing_ok=True)
        verilog = design_verilog(stim.det, base)
        atomic_write_text(stamp, stamp_key)
    return stim, verilog


def _groups(sim_levels, folding, gfold):
    """RTL at the simulation folding; netlists at the gate-level one, their per-cycle C++
    compiled at GATE_OPT_FAST; a netlist with a profile of its own (generic-dsp, whose
    multipliers are hard cells; the profile shares the RTL's folding) at the simulation
    one."""
    wide = [lv for lv in sim_levels if lv.level != "rtl" and lv.netlist in PROFILES]
    return [(folding, [lv for lv in sim_levels if lv.level == "rtl"], {}),
            (folding, wide, {"opt_fast": GATE_OPT_FAST}),
            (gfold, [lv for lv in sim_levels if lv.level != "rtl" and lv not in wide],
             {"opt_fast": GATE_OPT_FAST})]


def shard_detector(spec: dict, shard) -> dict:
    """Run frames ``shard.start``..``shard.stop - 1`` of the detector regression at every
    level of ``spec`` (:func:`detector_spec`): float and INT8 detections, the decision
    agreement, and the records of each simulation (the stall seed of shard k is the run's
    seed + k). Runs on a worker; returns JSON."""
    key = json.dumps({"data": spec["data"], "head": spec["head"]}, sort_keys=True)
    data, fh, h8, _ = _setup(key)
    score = spec["head"]["score_thresh"]
    H, W = data.grid_hw
    ids = data.image_ids[shard.start:shard.stop].tolist()
    out = {"float": [], "int8": [], "seconds": {"float": 0.0, "int8": 0.0}}
    agree = dict.fromkeys(("decisions", "identical", "float_fired", "int8_fired",
                           "both_fired"), 0)
    q_frames = []
    for i in ids:
        g = data.grid(i)
        t = time.perf_counter()
        d = fh.detect(g, score_thresh=score)
        out["seconds"]["float"] += time.perf_counter() - t
        out["float"].append(_pack_dets(d))
        t = time.perf_counter()
        q = quantize(g, h8.feature_scale)
        r = ref_detect(q, h8)
        d8 = postprocess(decode_detections(r, h8, (H, W)))
        out["seconds"]["int8"] += time.perf_counter() - t
        out["int8"].append({"records": pack_array(r), "dets": _pack_dets(d8)})
        q_frames.append(q)
        a = decision_agreement(fh, h8, [g])
        for k in agree:
            agree[k] += a[k]
    out["agree"] = agree

    n = len(data.image_ids)
    limits = {"verilator": n, "icarus": min(n, spec["icarus_images"])}
    levels = [SimLevel(*lv) for lv in spec["levels"]]
    levels = [lv for lv in levels if limits[lv.simulator] > shard.start]
    folding = sim_folding(spec["folding"])
    gfold = gate_folding(spec["gate_folding"], spec["folding"])
    design = spec["design"]
    st = spec["stimulus"]
    outcomes, skipped, failed = [], [], []
    for fold, group, hopts in _groups(levels, folding, gfold):
        if not group:
            continue
        base = f"regress-{design}" if fold == folding else \
            f"regress-{design}-{fold.pixels}x{fold.rows}x{fold.lanes}"
        stim, verilog = _design(key, fold, design, base)

        def items(lv, _stim=stim):
            k = min(shard.stop, limits[lv.simulator]) - shard.start
            return _stim.items(q_frames[:k]), None, k

        o, s_, f_ = simulate(
            group, verilog, base, stim.streams, stim.output, items,
            tag=f"shard{shard.index}",
            harness_options={"end_bit": stim.end_bit, **hopts}, frames=True,
            run_options={"pause_in": st["pause_in"], "pause_out": st["pause_out"],
                         "seed": st["seed"] + shard.index})
        for oc in o:
            frames = stim.records(oc.outputs)
            oc.outputs = {"records": [pack_array(f) for f in frames],
                          "dets": [_pack_dets(postprocess(decode_detections(f, h8, (H, W))))
                                   for f in frames],
                          "folding": [fold.pixels, fold.rows, fold.lanes]}
        outcomes += o
        skipped += s_
        failed += f_
    return {**out, **sim_result(outcomes, skipped, failed)}


def regress_detector(design: str, sim_levels, *, opts, runner, prog=None,
                     notes=()) -> Regression:
    """Run the detector regression in shards (``runner``, a
    :class:`~vitgates.regress.shards.ShardRunner`); return the filled
    :class:`Regression`. ``notes``: lines for the report (levels left out, and why)."""
    score = opts.score_thresh
    data = load_grids(getattr(opts, "features", None), getattr(opts, "annotations", None),
                      opts.detector_images, opts.data_seed)
    fh, h8, source = detector_heads(opts, data, score)
    folding = sim_folding(getattr(opts, "detector_folding", None))
    gfold = gate_folding(getattr(opts, "detector_gate_folding", None),
                         getattr(opts, "detector_folding", None))
    n = len(data.image_ids)
    reg = Regression(design, "cofiber detector", data.dataset, data.synthetic, n,
                     ["map", "map50", "map75"], decision_unit="detection records")
    H, W = data.grid_hw
    ids = data.image_ids
    n_icarus = min(n, opts.detector_icarus_images)
    sims = [lv for lv in sim_levels if lv.simulator == "verilator" or n_icarus > 0]

    spec = detector_spec(design, sims, opts)
    shards, results = runner.run(shard_detector, spec, n, label=f"regress-{design}",
                                 unit="frames")
    id_list = ids.tolist()
    f_dets = dict(zip(id_list, (_unpack_dets(d) for r in results for d in r["float"]),
                      strict=True))
    i_all = [e for r in results for e in r["int8"]]
    i_recs = {i: unpack_array(e["records"]) for i, e in zip(id_list, i_all, strict=True)}
    i_dets = {i: _unpack_dets(e["dets"]) for i, e in zip(id_list, i_all, strict=True)}
    f_res = [x for i in id_list for x in coco_results(i, f_dets[i], data.scale(i))]
    i_res = [x for i in id_list for x in coco_results(i, i_dets[i], data.scale(i))]
    f_time = sum(r["seconds"]["float"] for r in results)
    i_time = sum(r["seconds"]["int8"] for r in results)
    fm, f_curve = coco_eval(data.coco, f_res, ids)
    im, i_curve = coco_eval(data.coco, i_res, ids)
    reg.add_level(LevelRun("float", "float head", n, {**fm, "detections": len(f_res)}, f_time))
    reg.add_level(LevelRun("int8", "INT8 (golden)", n, {**im, "detections": len(i_res)},
                           i_time, extra={"records": sum(len(r) for r in i_recs.values())}))
    agree = {k: sum(r["agree"][k] for r in results) for k in results[0]["agree"]}
    either = agree["float_fired"] + agree["int8_fired"] - agree["both_fired"]
    agree["agreement"] = agree["identical"] / max(agree["decisions"], 1)
    agree["positive_jaccard"] = agree["both_fired"] / either if either else 1.0
    agree = {k: agree[k] for k in ("decisions", "identical", "agreement", "float_fired",
                                   "int8_fired", "both_fired", "positive_jaccard")}
    drop = fm["map"] - im["map"]
    reg.add_check(Check("INT8 vs float", agree["decisions"], agree["identical"],
                        f"mAP drop ≤ {opts.max_metric_drop:g}", drop <= opts.max_metric_drop,
                        f"mAP drop {drop:+.4f}; decisions fired: float {agree['float_fired']}, "
                        f"INT8 {agree['int8_fired']}, both {agree['both_fired']}"))

    ran, skipped, failed = collect(sims, shards, results, "frames")
    want = [i_recs[i] for i in id_list]
    rtl = {}
    top_dets = None
    for lv, got in ran:
        frames = [unpack_array(f) for _, e in got for f in e["outputs"]["records"]]
        k = len(frames)
        fold = gd.Folding(*got[0][1]["outputs"]["folding"])
        dets = dict(zip(id_list[:k], (_unpack_dets(d) for _, e in got
                                      for d in e["outputs"]["dets"]), strict=True))
        res = [x for i in id_list[:k] for x in coco_results(i, dets[i], data.scale(i))]
        m, curve = coco_eval(data.coco, res, ids[:k])
        cycles = sum(e["cycles"] for _, e in got)
        reg.add_level(LevelRun(
            lv.level, lv.label, k, {**m, "detections": len(res)},
            sum(e["seconds"] for _, e in got), netlist=lv.netlist, simulator=lv.simulator,
            extra={"cells": got[0][1]["cells"],
                   "synth_seconds": round(sum(e["synth_seconds"] for _, e in got), 2),
                   "build_seconds": round(sum(e["build_seconds"] for _, e in got), 2),
                   "cycles": cycles, "cycles_per_image": round(cycles / max(k, 1), 1),
                   "records": sum(len(f) for f in frames),
                   "folding": [fold.pixels, fold.rows, fold.lanes]}))
        reg.add_check(locate(compare_records(f"{lv.label} vs INT8", frames, want[:k]), shards,
                             "frames"))
        if lv.level == "rtl":
            rtl[lv.simulator] = frames
        elif lv.simulator in rtl:
            r = rtl[lv.simulator]
            m_ = min(len(r), k)
            reg.add_check(locate(compare_records(f"{lv.label} vs RTL ({lv.simulator})",
                                                 frames[:m_], r[:m_]), shards, "frames"))
        if top_dets is None and lv.level == "gate" and k == n:
            top_dets, top_curve, top_label = dets, curve, lv.label
    for note in notes:
        reg.sections += ["", note]
        reg.info.setdefault("notes", []).append(note)
    for lv, reason in failed:
        reg.add_check(Check(f"{lv.label} vs INT8", 0, 0, "identical", False, reason))
    for lv, reason in skipped:
        reg.add_check(not_run_check(f"{lv.label} vs INT8", reason))
        reg.sections += ["", f"**{lv.label}: not simulated.** {reason}"]
        reg.info.setdefault("not_simulated", []).append({"level": lv.label, "reason": reason})
    if top_dets is None:
        top_dets, top_curve, top_label = i_dets, i_curve, "INT8 (golden)"

    d = reports_dir()
    name = f"regress-{design}"
    syn = " — SYNTHETIC data" if data.synthetic else ""
    reg.plots["precision_recall"] = map_pr_png(
        d / f"{name}-pr.png", {"float head": f_curve, "INT8 (golden)": i_curve,
                               top_label: top_curve},
        f"cofiber detector: precision–recall at IoU 0.5{syn}")
    names = {k: nm for k, (_, nm) in enumerate(COCO_CATEGORIES)}

    for j, i in enumerate(ids[:3].tolist()):
        g = data.grid(i)
        gb, gc = gt_boxes(data.coco, i, data.scale(i))
        shown = {}
        for label, dd in (("float", f_dets[i]), (top_label, top_dets.get(i, i_dets[i]))):
            sel = np.flatnonzero(dd.scores >= 0.3)
            shown[label] = [(dd.boxes[s], int(dd.classes[s]), float(dd.scores[s])) for s in sel]
        reg.plots[f"detections_{j}"] = detection_grid_png(
            d / f"{name}-image{i}.png", np.linalg.norm(g, axis=-1), data.image_size,
            list(zip(gb, gc.tolist(), strict=True)), shown,
            f"image {i}: detections with score ≥ 0.3{syn}", names)
    reg.info.update({
        "head": source,
        "score_thresh": score,
        "folding": {"pixels": folding.pixels, "rows": folding.rows, "lanes": folding.lanes,
                    "macs_per_cycle": folding.macs_per_cycle},
        "gate_folding": {"pixels": gfold.pixels, "rows": gfold.rows, "lanes": gfold.lanes,
                         "macs_per_cycle": gfold.macs_per_cycle},
        "grid": [H, W],
        "macs_per_frame": H * W * h8.channels * (h8.n_classes + h8.box_rows),
        "int8_vs_float_decisions": agree,
        "stimulus": {"pause_in": opts.pause_in, "pause_out": opts.pause_out,
                     "seed": opts.seed, "icarus_images": n_icarus},
        "shards": {"count": len(shards), "size": runner.sizes["frames"]},
    })
    return reg


def benchmark(frames: int, netlists, threads=(1,)) -> int:
    """Seconds per 40×40×768 frame at the wide simulation folding, RTL and each netlist at
    each Verilator thread count in ``threads`` (benchmarks/bench_regress.py)."""
    opts = argparse.Namespace(data_seed=0, detector_float=None, detector_head=None,
                              features=None)
    data = load_grids(None, None, frames, 0)
    _, h8, _ = detector_heads(opts, data, 0.05)
    folding = sim_folding()
    stim = detector_stimulus(h8, data.grid_hw, folding)
    q = [quantize(data.grid(int(i)), h8.feature_scale) for i in data.image_ids]
    want = [ref_detect(x, h8) for x in q]
    verilog = design_verilog(stim.det, "bench-detector")
    bound = stim.det.macs_per_frame // folding.macs_per_cycle
    print(f"\ndetector, {frames} synthetic 40x40x768 frame(s), folding {folding.pixels} pixels "
          f"x {folding.rows} rows x {folding.lanes} lanes = {folding.macs_per_cycle} MACs/cycle"
          f" (bound {bound:,} cycles/frame), FIFO {stim.det.fifo_depth}")
    print(f"{'level':<34}{'cells':>8}{'synth s':>9}{'build s':>9}{'run s':>8}{'s/frame':>9}"
          f"{'cyc/frame':>11}{'Mcyc/s':>8}{'cpu s':>7}  identical")
    rc = 0
    runs = [(SimLevel("rtl", None, "verilator"), 1, {})]
    runs += [(SimLevel("gate", f, "verilator"), t, {"opt_fast": GATE_OPT_FAST})
             for f in netlists for t in threads]
    for lv, t, hopts in runs:
        label = lv.label + (f" {t} threads" if t > 1 else "")
        try:
            h, net = prepare_harness(lv, verilog, "bench-detector", stim.streams, stim.output,
                                     end_bit=stim.end_bit, threads=t, **hopts)
        except VitgatesError as e:
            print(f"{label:<34}not simulated: {e}")
            continue
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = h.run(stim.items(q), frames=frames, pause_in=0.02, pause_out=0.3, seed=1)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
        got = stim.records(r.outputs)
        c = compare_records("x", got, want)
        cells = sum(net.cells.values()) if net else 0
        print(f"{label:<34}{cells:>8}{(net.seconds if net else 0):>9.1f}"
              f"{(h.build_seconds if h.rebuilt else 0):>9.1f}{r.seconds:>8.2f}"
              f"{r.seconds / frames:>9.2f}{r.cycles // frames:>11,}"
              f"{r.cycles / r.seconds / 1e6:>8.3f}{cpu:>7.1f}  {c.identical}/{c.compared}",
              flush=True)
        rc |= not c.passed
    return rc
