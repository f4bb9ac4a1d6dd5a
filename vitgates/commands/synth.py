"""``vitgates synth``: the command line of :mod:`vitgates.fpga.synth`.

The options are read here once into a :class:`~vitgates.fpga.design.DesignOptions`, checked
(a bad value is one line, exit 2) before any tool runs, and handed to every design built.
"""

from pathlib import Path

from ..fpga.board_top import DEFAULT_BAUD
from ..fpga.boards import BOARDS
from ..fpga.design import HOLDS, DesignOptions
from ..fpga.designs import DESIGNS, get_design
from ..fpga.person_design import default_person_config
from ..fpga.synth import synthesise
from ..golden.person_config import load_person_config
from ..hw.person_classifier import FORMS

__all__ = ["configure_parser", "design_options", "run"]


def configure_parser(parser):
    parser.add_argument("--board", required=True, choices=sorted(BOARDS),
                        help="target board")
    parser.add_argument(
        "--design", default="all",
        help=f"design to build: {', '.join(sorted(DESIGNS))}, or 'all' (default)",
    )
    parser.add_argument(
        "--config",
        help="person-classifier config (JSON); default: the shipped synthetic-data config")
    parser.add_argument("--form", choices=sorted(FORMS), default="popcount",
                        help="board design: person-classifier form (default popcount)")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                        help=f"board design: UART rate (default {DEFAULT_BAUD})")
    parser.add_argument("--holds", choices=HOLDS, default=None,
                        help="board design: the designs the bitstream holds (default: "
                             "what fits: both on the ULX3S, person on the iCEBreaker)")


def design_options(args) -> DesignOptions:
    """The designs' options from the parsed command line; loads and checks ``--config``."""
    cfg = load_person_config(Path(args.config)) if args.config else default_person_config()
    return DesignOptions(person_config=cfg, config=args.config, form=args.form,
                         baud=args.baud, holds=args.holds)


def run(args) -> int:
    names = sorted(DESIGNS) if args.design == "all" else [args.design]
    for n in names:
        get_design(n)  # unknown names fail before anything runs
    opts = design_options(args)  # and so do bad options
    failed = []
    for n in names:
        data = synthesise(n, args.board, opts)
        g = data.get("gates", {}).get("total")
        print(
            f"{n} on {args.board}: {data['luts']} LUTs, {data['ffs']} FFs, "
            f"Fmax {data['fmax_mhz']} MHz (target {data['target_mhz']:g}: "
            f"{'met' if data['timing_met'] else 'NOT met'})"
            + (f", {g} gates" if g is not None else "")
        )
        if not data["timing_met"]:
            failed.append(n)
    if failed:
        print(f"timing not met: {', '.join(failed)}")
        return 1
    return 0
