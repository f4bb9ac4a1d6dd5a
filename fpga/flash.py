"""``vitgates flash``: program a board with the bitstream ``vitgates synth`` built.

The programmers are the usual open ones, found on PATH:

- iCEBreaker: ``iceprog`` (Debian ``fpga-icestorm``) or ``openFPGALoader -b icebreaker``;
- ULX3S: ``openFPGALoader -b ulx3s`` (Debian ``openfpgaloader``).

By default the bitstream goes to the board's configuration flash, so it survives a power
cycle; ``--sram`` loads it into the FPGA only (faster, lost at power-off). ``--dry-run``
prints the exact command and runs nothing. Without a bitstream, without a programmer, or
when the programmer finds no board, the command stops with one line naming what is missing
and exits 2.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import VitgatesError
from .boards import BOARDS, Board, get_board

__all__ = ["PROGRAMMERS", "find_bitstream", "programmer_command", "configure_parser", "run"]

#: programmers per board family, in order of preference, and how to install them
PROGRAMMERS = {
    "ice40": ("iceprog", "openFPGALoader"),
    "ecp5": ("openFPGALoader",),
}
_INSTALL = {
    "iceprog": "apt-get install fpga-icestorm",
    "openFPGALoader": "apt-get install openfpgaloader",
}
#: openFPGALoader's names for the boards
_OFL_BOARD = {"icebreaker": "icebreaker", "ulx3s-85f": "ulx3s"}


@dataclass(frozen=True)
class FlashPlan:
    programmer: str
    command: list
    bitstream: Path
    found: bool  # the programmer is on PATH


def _build_root() -> Path:
    return Path(os.environ.get("VITGATES_BUILD", "build"))


def find_bitstream(board: Board, design: str = "board", path: str | None = None) -> Path:
    """The bitstream to program: ``path``, or the one the synthesis report names, or the
    one in the synthesis folder."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise VitgatesError(f"{p}: no such bitstream")
        return p
    ext = ".bin" if board.family == "ice40" else ".bit"
    name = f"{design}-{board.name}"
    candidates = []
    report = _build_root() / "reports" / f"synth-{name}.json"
    if report.is_file():
        try:
            named = json.loads(report.read_text()).get("bitstream")
        except (OSError, ValueError):
            named = None
        if named:
            candidates.append(Path(named))
    candidates.append(_build_root() / "synth" / name / f"{name}{ext}")
    for c in candidates:
        if c.is_file() and c.suffix == ext:
            return c
    raise VitgatesError(
        f"no bitstream for design {design!r} on {board.name} (looked for {candidates[-1]}): "
        f"run `vitgates synth --board {board.name} --design {design}` first")


def programmer_command(board: Board, programmer: str, bitstream: Path, *,
                       sram: bool = False) -> list:
    """The command line that programs ``bitstream`` into ``board`` with ``programmer``."""
    if programmer not in PROGRAMMERS[board.family]:
        raise VitgatesError(f"{programmer} cannot program the {board.name} (use "
                            f"{' or '.join(PROGRAMMERS[board.family])})")
    if programmer == "iceprog":
        return ["iceprog", *(["-S"] if sram else []), str(bitstream)]
    return ["openFPGALoader", "-b", _OFL_BOARD[board.name], *([] if sram else ["-f"]),
            str(bitstream)]


def plan(board: Board, bitstream: Path, programmer: str = "auto", *,
         sram: bool = False) -> FlashPlan:
    """Pick the programmer (the first of the board's found on PATH, or the preferred one
    when none is) and build its command."""
    choices = PROGRAMMERS[board.family] if programmer == "auto" else (programmer,)
    found = [p for p in choices if shutil.which(p)]
    chosen = found[0] if found else choices[0]
    return FlashPlan(chosen, programmer_command(board, chosen, bitstream, sram=sram),
                     bitstream, bool(found))


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
                        help="print the programmer command and run nothing")


def run(args) -> int:
    board = get_board(args.board)
    bitstream = find_bitstream(board, args.design, args.bitstream)
    p = plan(board, bitstream, args.programmer, sram=args.sram)
    line = shlex.join(p.command)
    if args.dry_run:
        print(line)
        if not p.found:
            print(f"(dry run: {p.programmer} is not on PATH; {_INSTALL[p.programmer]})")
        return 0
    if not p.found:
        names = " or ".join(PROGRAMMERS[board.family] if args.programmer == "auto"
                            else (args.programmer,))
        raise VitgatesError(
            f"no programmer for the {board.name}: {names} not found on PATH (install with "
            + " or ".join(_INSTALL[n] for n in names.split(" or ")) + ")")
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
