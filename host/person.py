"""The person classifier's regression through a board (``vitgates host``).

It reads INFO (and refuses a board whose baked config is not the one it compares against),
streams every image as a CLASSIFY frame with as many frames in flight as the board has
slots, reads STATUS before and after, and reports in the schema of ``vitgates regress``
(docs/reports.md): the float and INT8 levels computed here, the board as level ``board``,
``agreement_with_int8`` of the board against the golden INT8 model, with throughput and the
board's error counters beside them. The run fails when a board decision differs from the
INT8 model.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import VitgatesError
from ..fpga.person_design import default_person_config
from ..golden.link import frame_bytes, link_images_per_second, person_config_id
from ..golden.person import float_sumdiff, ref_popcount, ref_sumdiff, select
from ..golden.person_config import load_person_config
from ..golden.quant import quantize
from ..regress.person import load_float_threshold, load_pooled, person_metrics
from ..regress.report import Check, LevelRun, Regression, identical_check
from .client import connect, counter_delta, link_errors
from .report import BoardRegression

__all__ = ["run_host"]


def run_host(args, port=None) -> tuple[dict, Regression, bool]:
    """Run the board regression; return the report, the :class:`BoardRegression` and
    whether it passed. ``port``: an open pyserial-like port instead of ``args.port``."""
    cfg = load_person_config(args.config) if args.config else default_person_config()
    with connect(args.port, baud=args.baud, timeout=args.timeout, port=port) as (link, info):
        if not info.person:
            raise VitgatesError(f"the board on {args.port} holds no person classifier")
        if info.config_id != person_config_id(cfg):
            raise VitgatesError(
                f"the board's classifier config (id {info.config_id.hex()}) is not "
                f"{args.config or 'the shipped config'} (id {person_config_id(cfg).hex()}): "
                "rebuild the bitstream with --config, or pass the config it was built with")
        if info.feature_dim != cfg.feature_dim:
            raise VitgatesError(f"the board takes {info.feature_dim} features, the config "
                                f"{cfg.feature_dim}")
        form = info.form
        data = load_pooled(args.features, args.annotations, args.images, args.data_seed)
        n = len(data.labels)
        q = quantize(data.features, cfg.scale)
        ref = {"popcount": ref_popcount, "sumdiff": ref_sumdiff}[form]

        title = f"person classifier ({form} form) on the board"
        reg = BoardRegression(f"board-{form}", title, data.dataset, data.synthetic, n,
                               ["f1", "precision", "recall"])
        labels = data.labels
        try:
            theta = load_float_threshold(cfg, args.person_float)
        except VitgatesError as e:
            theta = None
            print(f"float level skipped: {e}")
        if theta is not None:
            t = time.perf_counter()
            f_dec = float_sumdiff(data.features, cfg.pos_dims, cfg.neg_dims, theta)
            reg.add_level(LevelRun("float", "float (Σpos − Σneg > θ)", n,
                                   person_metrics(f_dec, labels), time.perf_counter() - t))
        t = time.perf_counter()
        i_dec = ref(select(q, cfg), cfg)
        int8 = reg.add_level(LevelRun("int8", f"INT8 ({form})", n, person_metrics(i_dec, labels),
                                      time.perf_counter() - t))
        if theta is not None:
            drop = reg.level("float").metrics["f1"] - int8.metrics["f1"]
            reg.add_check(Check("INT8 vs float", n, int(np.count_nonzero(i_dec == f_dec)),
                                f"F1 drop ≤ {args.max_metric_drop:g}",
                                drop <= args.max_metric_drop, f"F1 drop {drop:+.4f}"))

        before = link.status()
        sent0, recv0 = link.bytes_sent, link.bytes_received
        t = time.perf_counter()
        b_dec = link.classify(q, window=max(1, info.slots))
        seconds = time.perf_counter() - t
        sent, recv = link.bytes_sent - sent0, link.bytes_received - recv0
        after = link.status()
        delta = counter_delta(before, after)
        link_ips = link_images_per_second(info.baud, info.feature_dim)
        board = reg.add_level(LevelRun(
            "board", f"board over {args.port} ({info.baud:,} baud)", n,
            person_metrics(b_dec, labels), seconds,
            extra={"bytes_sent": sent, "bytes_received": recv,
                   # the share of the host-to-board line the frames kept busy
                   "line_utilisation": round(sent * 10 / info.baud / seconds, 4)
                   if seconds > 0 else None}))
        reg.add_check(identical_check("board vs INT8", b_dec, i_dec))
        errors = link_errors(delta)
        reg.info.update({
            "form": form,
            "port": args.port,
            "board_info": {"version": info.version, "clock_hz": info.clock_hz,
                           "baud": info.baud, "slots": info.slots,
                           "max_payload": info.max_payload, "timeout_us": info.timeout_us,
                           "config_id": info.config_id.hex()},
            "config": {k: v for k, v in cfg.to_dict().items() if k != "source"},
            "images_per_second": round(board.images_per_second, 2),
            "link_images_per_second": round(link_ips, 1),
            "frame_bytes": frame_bytes(info.feature_dim),
            "counters_before": before,
            "counters_after": after,
            "counters_delta": delta,
            "link_errors": errors,
            "host_rx_errors": len(link.rx_errors),
        })
        reg.sections += [
            "", "## Link", "",
            f"{n} CLASSIFY frames of {frame_bytes(info.feature_dim)} bytes at "
            f"{info.baud:,} baud (the line allows {link_ips:.1f} images/s): "
            f"**{board.images_per_second:.1f} images/s** measured. Errors counted by the "
            f"board during the run: {errors or 'none'}; frames from the board that failed "
            f"their checks: {len(link.rx_errors)}.",
        ]
        rep = reg.report()
        return rep, reg, reg.passed
