"""Programming a board with the bitstream ``vitgates synth`` built (``vitgates flash``,
:mod:`vitgates.commands.flash`).

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
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import VitgatesError
from ..paths import build_root
from .boards import Board

__all__ = ["INSTALL_HINTS", "PROGRAMMERS", "FlashPlan", "find_bitstream", "plan",
           "programmer_command"]

#: programmers per board family, in order of preference, and how to install them
PROGRAMMERS = {
    "ice40": ("iceprog", "openFPGALoader"),
    "ecp5": ("openFPGALoader",),
}
#: how to install each programmer (Debian)
INSTALL_HINTS = {
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
    return build_root()


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
