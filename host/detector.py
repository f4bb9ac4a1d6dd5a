"""The cofiber detector's regression through a board (``vitgates host --design detector``).

It runs on the data and heads of ``vitgates regress``: the grids of a feature cache
(``--features``, ``--annotations``) or the synthetic grid world (SYNTHETIC) at the board's
grid, the float head (``--detector-float``, or fitted in closed form on synthetic data) and
its INT8 head (``--detector-head``, or quantised) with thresholds for ``--score-thresh``. It
loads the head (DET_WEIGHTS, DET_THRESHOLDS), streams the quantised grids as DET_GRID
frames, collects the DETECTIONS and FRAME_DONE packets, compares every record with the
golden INT8 detector (:func:`~vitgates.golden.detector.ref_detect`, field by field and in
order) and decodes them for pycocotools mAP: ``regress-board-detector.{json,md}`` has the
levels float, INT8 and board of ``regress-detector.json``. The board's shape comes from
INFO; a board without box rows gets the head's class rows alone (records, no mAP); any other
difference between the data, the head and the board is one error line naming both. A board
the grid world cannot feed (the small simulated one) without ``--features`` or a head runs a
random INT8 head on random grids (SYNTHETIC, ``"mode": "random head"``: records only, no
mAP).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..errors import VitgatesError
from ..features.coco import coco_from_dict
from ..features.synthetic import FEATURE_DIM, grid_dataset
from ..golden.detector import (
    decision_agreement,
    decode_detections,
    detection_dtype,
    random_head,
    ref_detect,
)
from ..golden.detector_head import BOX_ROWS, NUM_CLASSES
from ..golden.link import DetectorShape, Type, frame_bytes
from ..golden.quant import quantize
from ..regress.detector import (
    GridData,
    coco_eval,
    coco_results,
    compare_records,
    detector_heads,
    load_grids,
    postprocess,
)
from ..regress.report import Check, LevelRun, Regression
from .client import connect, counter_delta, link_errors
from .report import BoardRegression

__all__ = ["run_host_detector"]


def _det_records(shape, payloads) -> list[list[bytes]]:
    """Record payloads split into grids at each FRAME_DONE (the end record excluded)."""
    grids, cur = [], []
    for p in payloads:
        if p.type == Type.FRAME_DONE:
            grids.append(cur)
            cur = []
        else:
            cur.append(p.payload)
    return grids


def _det_array(shape, payloads) -> np.ndarray:
    """Record payloads as the golden model's structured records
    (:func:`~vitgates.golden.detector.detection_dtype`)."""
    out = np.zeros(len(payloads), detection_dtype(shape.box_rows))
    for k, p in enumerate(payloads):
        v = shape.parse_record(p)
        for name in ("band", "y", "x", "cls", "acc"):
            out[name][k] = v[name]
        if shape.box_rows:
            out["box"][k] = v["box"]
    return out


def _shape_text(channels, n_classes, box_rows) -> str:
    return f"{channels} channels, {n_classes} classes, {box_rows} box rows"


def _board_head(h8, shape, what: str):
    """``(head, note)``: ``h8`` as the board's detector computes it. A board without box
    rows (B = 0) computes the class rows alone: the head's box rows are dropped (the class
    decisions do not depend on them). Any other difference fails."""
    have = (h8.channels, h8.n_classes, h8.box_rows)
    want = (shape.channels, shape.n_classes, shape.box_rows)
    if have == want:
        return h8, ""
    if have[:2] == want[:2] and shape.box_rows == 0:
        K = h8.n_classes
        return dataclasses.replace(h8, weight=h8.weight[:K], weight_scale=h8.weight_scale[:K],
                                   bias=h8.bias[:K]), (
            f"the board's detector has no box rows: the head's {h8.box_rows} box rows are "
            "left out, its records carry no boxes, so INT8 and board levels report no mAP")
    raise VitgatesError(f"{what} has {_shape_text(*have)}; the board's detector takes "
                        f"{_shape_text(*want)}")


def _random_mode(args, shape) -> bool:
    """Whether the board's detector is one the grid world cannot feed (a small simulated
    board) and no data or head were named: then a random head on random grids."""
    if args.features or args.detector_float or args.detector_head:
        return False
    H, W = shape.grid
    return not (shape.channels == FEATURE_DIM and shape.n_classes == NUM_CLASSES
                and shape.box_rows in (0, BOX_ROWS) and H == W and H % 4 == 0)


def _grid_data(args, shape, n: int):
    """The grids the board runs: the cache's (``--features``), else the synthetic grid world
    at the board's grid (:func:`~vitgates.features.synthetic.grid_dataset`; at 40×40 the
    grids of ``vitgates regress``)."""
    if args.features:
        data = load_grids(args.features, args.annotations, n, args.data_seed)
        if tuple(data.grid_hw) != tuple(shape.grid):
            raise VitgatesError(f"{args.features}: grids of {data.grid_hw[0]}×{data.grid_hw[1]}; "
                                f"the board's detector takes {shape.grid[0]}×{shape.grid[1]}")
        return data
    try:
        ds = grid_dataset(n_images=n, seed=args.data_seed, grid_hw=tuple(shape.grid))
    except ValueError as e:
        raise VitgatesError(f"the synthetic grid world cannot feed the board's detector: {e}") \
            from None
    return GridData(ds.image_ids, ds.grid, coco_from_dict(ds.coco), ds.label, True,
                    ds.grid_hw, ds.image_size)


def run_host_detector(args, port=None) -> tuple[dict, Regression, bool]:
    """The detector's board regression (``--design detector``): the grids and heads of
    ``vitgates regress`` (levels float, INT8, board; mAP through pycocotools), every board
    record against the golden INT8 detector. A board the grid world cannot feed (the small
    simulated one) without ``--features`` or a head gets a random head on random grids
    (SYNTHETIC, no ground truth: records only)."""
    with connect(args.port, baud=args.baud, timeout=args.timeout, port=port) as (link, info):
        shape = DetectorShape.from_info(info)
        if shape is None:
            raise VitgatesError(f"the board on {args.port} holds no detector (build the "
                                "board design without --no-detector)")
        n = args.images or 4
        random = _random_mode(args, shape)
        score = args.score_thresh
        notes = []
        if random:
            rng = np.random.default_rng(args.data_seed)
            q_grids = [rng.integers(-128, 128, (*shape.grid, shape.channels)).astype(np.int8)
                       for _ in range(n)]
            h8 = random_head(shape.channels, shape.n_classes, shape.box_rows,
                             seed=args.data_seed, grids=q_grids[:4], fire=0.01)
            data = fh = None
            source = (f"random INT8 head (SYNTHETIC), seed {args.data_seed}, thresholds "
                      "firing about 1 % of decisions")
            dataset = "synthetic random INT8 grids (random head: no ground truth, no mAP)"
            what = _shape_text(shape.channels, shape.n_classes, shape.box_rows)
            notes.append(
                f"**Random head on random grids (SYNTHETIC).** The board's detector "
                f"({shape.grid[0]}×{shape.grid[1]}, {what}) is not one the synthetic grid world "
                "(768 channels, 80 classes) can feed: its records are checked against the "
                "golden INT8 model, no mAP is measured.")
            reg = BoardRegression("board-detector", "cofiber detector on the board", dataset,
                                  True, n, [], decision_unit="detection records")
        else:
            data = _grid_data(args, shape, args.images if args.features else n)
            n = len(data.image_ids)
            fh, h8, source = detector_heads(args, data, score)
            h8, note = _board_head(h8, shape, args.detector_head or "the INT8 head")
            if note:
                notes.append(note)
            q_grids = [quantize(data.grid(int(i)), h8.feature_scale)
                       for i in data.image_ids.tolist()]
            if q_grids and q_grids[0].shape[-1] != shape.channels:
                raise VitgatesError(f"the grids have {q_grids[0].shape[-1]} channels; the "
                                    f"board's detector takes {shape.channels}")
            keys = ["map", "map50", "map75"]
            reg = BoardRegression("board-detector", "cofiber detector on the board",
                                  data.dataset, data.synthetic, n, keys,
                                  decision_unit="detection records")
        boxes = not random and h8.box_rows > 0
        ids = data.image_ids.tolist() if data is not None else list(range(n))

        def evaluate(recs) -> tuple[dict, int]:
            """mAP of per-image records (when they decode), and the detections kept."""
            if not boxes:
                return {}, sum(map(len, recs))
            res = []
            for i, r in zip(ids, recs, strict=False):
                res += coco_results(i, postprocess(decode_detections(r, h8, shape.grid)),
                                data.scale(i))
            m, _ = coco_eval(data.coco, res, ids[:len(recs)])
            return m, len(res)

        if fh is not None:
            t = time.perf_counter()
            f_res = []
            for i in ids:
                f_res += coco_results(i, fh.detect(data.grid(i), score_thresh=score), data.scale(i))
            fm, _ = coco_eval(data.coco, f_res, ids)
            reg.add_level(LevelRun("float", "float head", n, {**fm, "detections": len(f_res)},
                                   time.perf_counter() - t))
        t = time.perf_counter()
        want = [ref_detect(q, h8) for q in q_grids]
        im, i_dets = evaluate(want)
        reg.add_level(LevelRun("int8", "INT8 (golden)", n, {**im, "detections": i_dets},
                               time.perf_counter() - t,
                               extra={"records": sum(map(len, want))}))
        if fh is not None:
            agree = decision_agreement(fh, h8, [data.grid(i) for i in ids])
            drop = fm["map"] - im["map"] if "map" in im else None
            crit = f"mAP drop ≤ {args.max_metric_drop:g}"
            reg.add_check(Check(
                "INT8 vs float", agree["decisions"], agree["identical"],
                crit if drop is not None else "decisions (no boxes)",
                drop is None or drop <= args.max_metric_drop,
                (f"mAP drop {drop:+.4f}; " if drop is not None else "")
                + f"decisions fired: float {agree['float_fired']}, INT8 "
                  f"{agree['int8_fired']}, both {agree['both_fired']}"))
            reg.info["int8_vs_float_decisions"] = agree

        window = max(1, info.slots)
        per = max(1, info.max_payload // shape.stride) * shape.stride
        w, th = shape.weight_writes(h8), shape.threshold_writes(h8)
        before = link.status()
        t = time.perf_counter()
        link.stream([(Type.DET_WEIGHTS, w[k:k + per]) for k in range(0, len(w), per)]
                    + [(Type.DET_THRESHOLDS, th[k:k + per]) for k in range(0, len(th), per)],
                    window=window)
        load_seconds = time.perf_counter() - t
        sent0, recv0 = link.bytes_sent, link.bytes_received
        t = time.perf_counter()
        frames = []
        for g in q_grids:
            stream = shape.grid_stream(g)
            frames += [(Type.DET_GRID, stream[k:k + info.max_payload])
                       for k in range(0, len(stream), info.max_payload)]
        acks = link.stream(frames, window=window)
        link.wait_frames_done(n)
        seconds = time.perf_counter() - t
        sent, recv = link.bytes_sent - sent0, link.bytes_received - recv0
        after = link.status()
        delta = counter_delta(before, after)
        got = [_det_array(shape, g) for g in _det_records(shape, link.detections)]

        bm, b_dets = evaluate(got)
        reg.add_level(LevelRun(
            "board", f"board over {args.port} ({info.baud:,} baud)", n,
            {**bm, "detections": b_dets}, seconds,
            extra={"records": sum(map(len, got)), "bytes_sent": sent, "bytes_received": recv,
                   "line_utilisation": round(sent * 10 / info.baud / seconds, 4)
                   if seconds > 0 else None}))
        check = compare_records("board vs INT8", got, want)
        grid_acks = [int.from_bytes(p.payload, "little") for p in acks]
        done = sum(a == 0 for a in grid_acks)
        if done != n:
            check.passed = False
            check.note = (check.note + "; " if check.note else "") + \
                f"{done} of {n} grids acknowledged complete"
        reg.add_check(check)
        full, rest = divmod(shape.grid_bytes, info.max_payload)
        wire = full * frame_bytes(info.max_payload) + (frame_bytes(rest) if rest else 0)
        link_gps = info.baud / 10 / wire
        errors = link_errors(delta)
        H, W = shape.grid
        reg.info.update({
            "port": args.port,
            "mode": "random head" if random else "grid data",
            "board_info": {"version": info.version, "clock_hz": info.clock_hz,
                           "baud": info.baud, "slots": info.slots,
                           "max_payload": info.max_payload, "timeout_us": info.timeout_us,
                           "det_shape": list(info.det_shape),
                           "det_fold": list(info.det_fold)},
            "head": source,
            "score_thresh": None if random else score,
            "grid": [H, W],
            "macs_per_frame": H * W * h8.channels * h8.rows,
            "grid_bytes": shape.grid_bytes,
            "grids_per_second": round(n / seconds, 4) if seconds > 0 else None,
            "link_grids_per_second": round(link_gps, 4),
            "load_seconds": round(load_seconds, 3),
            "counters_before": before,
            "counters_after": after,
            "counters_delta": delta,
            "link_errors": errors,
            "host_rx_errors": len(link.rx_errors),
        })
        for note in notes:
            reg.sections += ["", note]
            reg.info.setdefault("notes", []).append(note)
        reg.sections += [
            "", "## Link", "",
            f"{n} grids of {shape.grid_bytes:,} bytes ({len(frames)} DET_GRID frames) at "
            f"{info.baud:,} baud (the line allows {link_gps:.4f} grids/s): "
            f"{n / seconds:.4f} grids/s measured, {sum(map(len, got))} detection records. "
            f"Errors counted by the board: {errors or 'none'}; frames from the board that "
            f"failed their checks: {len(link.rx_errors)}.",
        ]
        return reg.report(), reg, reg.passed
