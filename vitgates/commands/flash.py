"""``vitgates flash``: build the board's bitstream when it is missing or stale, then program
it (iceprog or openFPGALoader); ``--dry-run`` prints both commands and runs neither.
Programmers, bitstreams and the staleness rule: :mod:`vitgates.fpga.flash`.
"""

import shlex
import subprocess

from ..errors import VitgatesError
from ..fpga.boards import BOARDS, get_board
from ..fpga.flash import INSTALL_HINTS, PROGRAMMERS, build_bitstream, find_bitstream, plan

__all__ = ["configure_parser", "run"]


def configure_parser(parser):
    parser.add_argument("--board", required=True, choices=sorted(BOARDS), help="target board")
    parser.add_argument("--design", default="board",
                        help="the synthesised design to program (default: board, the "
                        "bitstream with the host link)")
    parser.add_argument("--bitstream", metavar="FILE",
                        help="program this file instead of the built one")
    parser.add_argument("--programmer", default="auto",
                        choices=["auto", "iceprog", "openFPGALoader"],
                        help="programmer to run (default: the first found on PATH)")
    parser.add_argument("--sram", action="store_true",
                        help="load the FPGA only (lost at power-off) instead of the flash")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the build command (when the bitstream is missing or "
                        "stale) and the programmer command, and run neither")


def run(args) -> int:
    board = get_board(args.board)
    found = find_bitstream(board, args.design, args.bitstream)
    p = plan(board, found.path, args.programmer, sram=args.sram)
    line = shlex.join(p.command)
    if args.dry_run:
        if found.stale is not None:
            print(shlex.join(found.build_command))
        print(line)
        if found.stale is not None:
            print(f"(dry run: the bitstream would be built first: {found.stale})")
        if not p.found:
            print(f"(dry run: {p.programmer} is not on PATH; {INSTALL_HINTS[p.programmer]})")
        return 0
    if not p.found:
        names = " or ".join(PROGRAMMERS[board.family] if args.programmer == "auto"
                            else (args.programmer,))
        raise VitgatesError(
            f"no programmer for the {board.name}: {names} not found on PATH (install with "
            + " or ".join(INSTALL_HINTS[n] for n in names.split(" or ")) + ")")
    bitstream = found.path
    if found.stale is not None:
        print(f"building the bitstream first ({found.stale}): "
              f"{shlex.join(found.build_command)}", flush=True)
        bitstream = build_bitstream(board, args.design)
        p = plan(board, bitstream, args.programmer, sram=args.sram)
        line = shlex.join(p.command)
    print(line, flush=True)
    try:
        proc = subprocess.run(p.command, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise VitgatesError(f"{p.programmer} did not finish within 300 s") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else "no output"
        raise VitgatesError(f"{p.programmer} failed (exit {proc.returncode}): {last}; is the "
                            f"{board.name} plugged in and its USB device accessible?")
    print(f"programmed {board.name} with {bitstream}")
    return 0
