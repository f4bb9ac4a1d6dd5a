"""``vitgates regress``: float, INT8, RTL and gate-level runs of every design, F1/mAP and
agreement in ``build/reports/regress-<design>.*``, in shards on a Dask cluster (all cores of
this machine by default, ``--scheduler`` for a running cluster), resumed after an interruption.

What is compared and when it fails: :mod:`vitgates.regress.run`.
"""

from __future__ import annotations

from ..regress.detector import add_head_options
from ..regress.run import LEVELS, SHARD_SIZES, run_regression

__all__ = ["configure_parser", "run"]


def configure_parser(parser) -> None:
    parser.add_argument("--design", default="all",
                        help="popcount, sumdiff, person (both), detector, or all (default)")
    parser.add_argument("--features", metavar="DIR",
                        help="feature cache (default: the embedded synthetic data)")
    parser.add_argument("--annotations", metavar="FILE",
                        help="COCO annotations of the cached images (person labels, boxes)")
    parser.add_argument("--person-config", metavar="FILE",
                        help="person-classifier config (default: the shipped one)")
    parser.add_argument("--person-float", metavar="FILE",
                        help="the float person classifier (JSON) the config was derived from")
    parser.add_argument("-n", "--images", type=int, default=None,
                        help="person classifier: first N images (default: all; 5000 "
                        "synthetic)")
    parser.add_argument("--detector-images", type=int, default=None,
                        help="detector: first N images (default: 4 synthetic, all cached)")
    add_head_options(parser)
    parser.add_argument("--detector-folding", metavar="P,R,L",
                        help="MAC array simulated: pixels, rows, lanes (default: the "
                        "simulation profile)")
    parser.add_argument("--detector-gate-folding", metavar="P,R,L",
                        help="MAC array of the detector's gate-level runs (default: "
                        "--detector-folding when named, else 4,4,4: 64 MACs per cycle, a "
                        "netlist Verilator builds in minutes)")
    parser.add_argument("--detector-icarus-images", type=int, default=0,
                        help="detector frames per Icarus run (default 0: a frame is millions "
                        "of cycles)")
    parser.add_argument("--levels", default=",".join(LEVELS),
                        help="levels to run (default: float,int8,rtl,gate)")
    parser.add_argument("--netlists", default=None,
                        help="gate-level netlists (known: ice40,ecp5,generic,generic-dsp; "
                        "default: ice40,ecp5,generic for the person classifier, "
                        "generic-dsp,generic for the detector: yosys ships no simulation "
                        "model of the ECP5 block RAM and multiplier)")
    parser.add_argument("--simulators", default="verilator,icarus",
                        help="simulators (default: verilator,icarus; Icarus where installed)")
    parser.add_argument("--icarus-images", type=int, default=32,
                        help="images per Icarus run (default 32: Icarus is ~100x slower)")
    parser.add_argument("--pause-in", type=float, default=0.05,
                        help="probability of an idle input cycle (default 0.05)")
    parser.add_argument("--pause-out", type=float, default=0.5,
                        help="probability of back-pressure on the output (default 0.5)")
    parser.add_argument("--seed", type=int, default=1, help="stall pattern seed (default 1)")
    parser.add_argument("--data-seed", type=int, default=0,
                        help="synthetic data seed (default 0)")
    parser.add_argument("--workers", type=int, default=None,
                        help="at most N workers (default: a local Dask cluster of one worker "
                        "per core; with --scheduler, all of that cluster's workers)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="run the shards on this running Dask cluster (dask scheduler "
                        "and dask worker processes, or dask-jobqueue on SLURM/LSF; "
                        "docs/regress.md)")
    parser.add_argument("--shard-images", type=int, default=SHARD_SIZES["images"],
                        help="person classifier: images per shard (default "
                        f"{SHARD_SIZES['images']})")
    parser.add_argument("--shard-frames", type=int, default=SHARD_SIZES["frames"],
                        help=f"detector: frames per shard (default {SHARD_SIZES['frames']})")
    parser.add_argument("--fresh", action="store_true",
                        help="start over: forget the finished shards of a run with the same "
                        "inputs (default: resume from them, build/regress/<run-id>/)")
    parser.add_argument("--max-metric-drop", type=float, default=0.03,
                        help="INT8 vs float passes when the metric (F1, mAP) drops by at most "
                        "this much (default 0.03)")


def run(args) -> int:
    return run_regression(args)
