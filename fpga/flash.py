"""Programming a board with the bitstream ``vitgates synth`` built (``vitgates flash``,
:mod:`vitgates.commands.flash`).

The programmers are the usual open ones, found on PATH:

- iCEBreaker: ``iceprog`` (Debian ``fpga-icestorm``) or ``openFPGALoader -b icebreaker``;
- ULX3S: ``openFPGALoader -b ulx3s`` (Debian ``openfpgaloader``).

Like Amaranth's ``build(do_program=True)``, ``vitgates flash`` first builds what is missing:
when the design's bitstream does not exist, or its synthesis report names a content key
other than that of today's sources and tools (:mod:`vitgates.fpga.build_key`), it runs
``vitgates synth --board B --design D`` (with that design's default options), then
programs. ``--bitstream FILE`` programs a given file as it is.

By default the bitstream goes to the board's configuration flash, so it survives a power
cycle; ``--sram`` loads it into the FPGA only (faster, lost at power-off). ``--dry-run``
prints the build command (when a build is due) and the programming command, and runs
neither. Without a programmer, or when the programmer finds no board, the command stops
with one line naming what is missing and exits 2.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import VitgatesError
from ..paths import build_root
from .boards import Board
from .build_key import sources_digest
from .design import DesignOptions
from .person_design import default_person_config
from .synth import synthesise

__all__ = ["INSTALL_HINTS", "PROGRAMMERS", "Bitstream", "FlashPlan", "build_bitstream",
           "find_bitstream", "plan", "programmer_command"]

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


@dataclass(frozen=True)
class Bitstream:
    """Where a design's bitstream is (or will be), and whether it must be built first."""

    path: Path
    #: why it must be built (missing, or built from other sources), or None when current
    stale: str | None
    #: the command that builds it
    build_command: list


def _default_path(board: Board, design: str) -> Path:
    ext = ".bin" if board.family == "ice40" else ".bit"
    name = f"{design}-{board.name}"
    return build_root() / "synth" / name / f"{name}{ext}"


def find_bitstream(board: Board, design: str = "board", path: str | None = None) -> Bitstream:
    """The bitstream to program: ``path`` as it is, or the one ``vitgates synth`` builds for
    ``design`` on ``board``, with whether it is missing or stale."""
    build = ["vitgates", "synth", "--board", board.name, "--design", design]
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise VitgatesError(f"{p}: no such bitstream")
        return Bitstream(p, None, build)
    ext = ".bin" if board.family == "ice40" else ".bit"
    name = f"{design}-{board.name}"
    target = _default_path(board, design)
    report = build_root() / "reports" / f"synth-{name}.json"
    try:
        data = json.loads(report.read_text())
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        data = None
    except (OSError, ValueError):
        return Bitstream(target, f"its synthesis report {report} is unreadable", build)
    named = Path(data["bitstream"]) if data and data.get("bitstream") else target
    if not (named.is_file() and named.suffix == ext):
        return Bitstream(target, "it has not been built", build)
    if data is None:
        return Bitstream(named, f"{report} is missing (it records what the bitstream was "
                                "built from)", build)
    if data.get("sources_sha256") != sources_digest():
        return Bitstream(named, "the sources or tools changed since it was built", build)
    return Bitstream(named, None, build)


def build_bitstream(board: Board, design: str) -> Path:
    """Run ``vitgates synth`` for ``design`` on ``board`` (default options); return the
    bitstream. Timing not met is reported but does not stop programming."""
    opts = DesignOptions(person_config=default_person_config())
    data = synthesise(design, board.name, opts)
    if not data.get("timing_met"):
        print(f"warning: {design} on {board.name} does not meet timing at "
              f"{data.get('target_mhz')} MHz (Fmax {data.get('fmax_mhz')} MHz)")
    found = find_bitstream(board, design)
    if found.stale is not None:
        raise VitgatesError(f"vitgates synth wrote no usable bitstream for {design} on "
                            f"{board.name}: {found.stale}")
    return found.path


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
