"""``vitgates flash``: program a board with the bitstream ``vitgates synth`` built.

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
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import VitgatesError
from ..paths import build_root
from .boards import BOARDS, Board, get_board
from .build_key import sources_digest
from .design import DesignOptions
from .person_design import default_person_config
from .synth import synthesise

__all__ = ["PROGRAMMERS", "Bitstream", "find_bitstream", "programmer_command",
           "configure_parser", "run"]

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
            print(f"(dry run: {p.programmer} is not on PATH; {_INSTALL[p.programmer]})")
        return 0
    if not p.found:
        names = " or ".join(PROGRAMMERS[board.family] if args.programmer == "auto"
                            else (args.programmer,))
        raise VitgatesError(
            f"no programmer for the {board.name}: {names} not found on PATH (install with "
            + " or ".join(_INSTALL[n] for n in names.split(" or ")) + ")")
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
