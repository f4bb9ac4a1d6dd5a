"""``vitgates host``: stream pooled features to a board over its UART and collect decisions.

The board runs the ``board`` bitstream (``vitgates synth --design board``, ``vitgates
flash``). ``--port`` is a device (``/dev/ttyUSB1``: the iCEBreaker's second FTDI channel, the
ULX3S's only one) or any pyserial URL (``socket://host:port``: the simulated board of
``tests/test_host.py``); :mod:`vitgates.host.client` talks to it.

By default it runs the person classifier (:mod:`vitgates.host.person`) and writes
``regress-board-<form>.{json,md}``; ``--design detector`` runs the cofiber detector of the
same bitstream instead (:mod:`vitgates.host.detector`) on the data and heads of ``vitgates
regress`` and writes ``regress-board-detector.{json,md}``. The exit status is 1 when a board
decision differs from the INT8 model.
"""

from __future__ import annotations

from ..errors import VitgatesError
from ..host.client import DEFAULT_BAUD
from ..host.detector import run_host_detector
from ..host.person import run_host
from ..host.report import write_board_report
from ..regress.detector import add_head_options

__all__ = ["configure_parser", "run"]


def configure_parser(parser):
    parser.add_argument("--design", choices=["person", "detector"], default="person",
                        help="which design of the bitstream to run (default person)")
    parser.add_argument("--port", required=True,
                        help="serial device (/dev/ttyUSB1) or pyserial URL (socket://host:port)")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                        help=f"line rate (default {DEFAULT_BAUD}; must be the bitstream's)")
    parser.add_argument("--features", metavar="DIR",
                        help="feature cache (default: the embedded synthetic data)")
    parser.add_argument("--annotations", metavar="FILE",
                        help="COCO annotations of the cached images (person labels)")
    parser.add_argument("--config", metavar="FILE",
                        help="the person-classifier config the bitstream was built with "
                        "(default: the shipped one)")
    parser.add_argument("--person-float", metavar="FILE",
                        help="the float person classifier (JSON) the config was derived from")
    add_head_options(parser)
    parser.add_argument("-n", "--images", type=int, default=None,
                        help="first N images (default: all; 5000 synthetic; detector: all cached, "
                        "4 synthetic)")
    parser.add_argument("--data-seed", type=int, default=0,
                        help="seed of the synthetic data (default 0)")
    parser.add_argument("--max-metric-drop", type=float, default=0.03,
                        help="largest F1 loss of INT8 against float that passes")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="seconds to wait for a reply (default 2)")
    parser.add_argument("--reports", metavar="DIR", default=None,
                        help="where the report goes (default build/reports)")


def run(args) -> int:
    if args.images is not None and args.images < 2:
        raise VitgatesError("--images must be at least 2")
    if getattr(args, "design", "person") == "detector":
        if not 0 < args.score_thresh < 1:
            raise VitgatesError("--score-thresh must lie in (0, 1)")
        rep, reg, passed = run_host_detector(args)
        write_board_report(rep, reg, args.reports)
        levels = {lv["level"]: lv for lv in rep["levels"]}
        board = levels["board"]
        tag = " (synthetic, random head)" if rep["mode"] == "random head" else \
            " (synthetic)" if rep["synthetic"] else ""
        m = ""
        if "map" in board:
            m = f"mAP {board['map']:.4f} (INT8 {levels['int8']['map']:.4f}), "
        print(f"board detector{tag}: {rep['n_images']} grids, {board['records']} detection "
              f"records, agreement with INT8 {rep['agreement_with_int8']:.6f}, {m}"
              f"{rep['grids_per_second']} grids/s, link errors {rep['link_errors'] or 'none'}: "
              f"{'PASS' if passed else 'FAIL'}")
        return 0 if passed else 1
    rep, reg, passed = run_host(args)
    write_board_report(rep, reg, args.reports)
    tag = " (synthetic)" if rep["synthetic"] else ""
    board = next(lv for lv in rep["levels"] if lv["level"] == "board")
    print(f"board{tag}: {rep['n_images']} images, F1 {rep['f1']:.4f}, agreement with INT8 "
          f"{rep['agreement_with_int8']:.6f}, {board['images_per_second']:.1f} images/s, "
          f"link errors {rep['link_errors'] or 'none'}: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1
