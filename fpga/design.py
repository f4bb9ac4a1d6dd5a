"""What a ``vitgates synth`` design is: its hooks, the options they receive, the result they read.

Each design lives in its own module (:mod:`~vitgates.fpga.person_design`,
:mod:`~vitgates.fpga.detector_design`, :mod:`~vitgates.fpga.board_design`) and imports this
one; the list of them, by name, is :mod:`vitgates.fpga.designs`, above them all. This module
imports none of them.

A design's hooks receive the command's options as one :class:`DesignOptions`, checked when
it is made, and the board. The flow (:mod:`vitgates.fpga.synth`) measures a design once into
a :class:`SynthResult`, which its ``extra`` hook reads for the design's own report keys.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from amaranth import Elaboratable

from ..errors import VitgatesError
from ..golden.person_config import PersonConfig
from ..hw.person_classifier import FORMS
from .board_top import DEFAULT_BAUD
from .boards import Board
from .gates import GateCount, NetworkCore

__all__ = ["HOLDS", "BuildFiles", "Design", "DesignOptions", "SynthResult"]

#: What a board's bitstream can hold (``--holds``): both designs, or one of them.
HOLDS = ("both", "person", "detector")


@dataclass(frozen=True)
class DesignOptions:
    """The options of ``vitgates synth`` that designs read, checked once, when made.

    The person designs read ``person_config``; the board design reads every field.
    A bad value raises :class:`~vitgates.errors.VitgatesError` with one line.
    """

    #: the person classifier's config: the one ``--config`` names, or the shipped one
    person_config: PersonConfig
    #: ``--config`` as given, or None for the shipped config (the reports name it)
    config: str | None = None
    #: the person classifier's form in a board's bitstream (``--form``)
    form: str = "popcount"
    #: the UART line rate of a board's bitstream (``--baud``)
    baud: int = DEFAULT_BAUD
    #: the designs a board's bitstream holds (``--holds``, one of :data:`HOLDS`); None: what
    #: fits the board (:data:`vitgates.fpga.board_design.DEFAULT_HOLDS`)
    holds: str | None = None

    def __post_init__(self):
        if self.form not in FORMS:
            raise VitgatesError(f"--form must be one of {', '.join(sorted(FORMS))}, "
                                f"got {self.form!r}")
        if isinstance(self.baud, bool) or not isinstance(self.baud, int) or self.baud <= 0:
            raise VitgatesError(f"--baud must be positive, got {self.baud}")
        if self.holds is not None and self.holds not in HOLDS:
            raise VitgatesError(f"--holds must be one of {', '.join(HOLDS)}, got {self.holds!r}")


@dataclass(frozen=True)
class BuildFiles:
    """What a design's ``build`` hook wrote into the synthesis folder."""

    #: netlist files, read by yosys in order (``.il``: RTLIL, ``.v``: Verilog)
    sources: tuple[str, ...]
    #: pin constraints: a PCF (iCE40) or LPF (ECP5) file, or None for free placement
    constraints: str | None = None


@dataclass(frozen=True)
class SynthResult:
    """One design synthesised, placed and routed on one board, and measured.

    Made once by :func:`vitgates.fpga.synth.synthesise`; the report's keys of the same names
    come from it (docs/reports.md), and the design's ``extra`` hook reads it.
    """

    design: str
    board: Board
    #: yosys's cells by type (``stat -json``), before place and route
    cells_by_type: Mapping[str, int]
    #: the cells counted in the board family's primitives (``SB_LUT4``, ``LUT4``, ...)
    luts: int
    ffs: int
    ebr: int
    spram: int
    dsp: int
    carries: int
    #: the worst clock's achieved frequency in nextpnr's report, or None when it has none
    fmax_mhz: float | None
    #: the clock the design was timed at
    target_mhz: float
    #: nextpnr's utilisation table, the resources used only
    utilisation: Mapping[str, dict]
    #: the combinational core in AND/XOR/NOT gates, for designs with a ``gate_core``
    gates: GateCount | None
    #: cycles per image measured in simulation, for designs with ``cycles_per_image``
    cycles_per_image: int | None
    #: the synthesis folder
    workdir: Path
    #: the packed bitstream, or None when the flow wrote none
    bitstream: Path | None
    #: wall time of the netlist, synthesis, place and route and packing
    seconds_synth_pnr: float

    @property
    def timing_met(self) -> bool:
        return self.fmax_mhz is not None and self.fmax_mhz >= self.target_mhz

    def cell_count(self, *types: str) -> int:
        """How many cells of these yosys types the netlist has."""
        return sum(int(self.cells_by_type.get(t, 0)) for t in types)


@dataclass(frozen=True)
class Design:
    """A design ``vitgates synth`` builds: its name and its hooks.

    Every hook receives the options and the board. A design has ``build`` (it writes its
    netlist and, for board tops, the pin constraints) or ``top`` (converted to Verilog and
    placed with free pins).
    """

    name: str
    summary: str
    #: (options, board) -> synthesis top (an Elaboratable whose ports are all top-level ports)
    top: Callable[[DesignOptions, Board], Elaboratable] | None = None
    #: (options, board) -> the combinational core for the gate count
    gate_core: Callable[[DesignOptions, Board], NetworkCore] | None = None
    #: (options, board) -> cycles per image, measured in simulation
    cycles_per_image: Callable[[DesignOptions, Board], int] | None = None
    #: (options, board, result) -> the design's own report keys
    extra: Callable[[DesignOptions, Board, SynthResult], dict] | None = None
    #: (options, board, folder) -> BuildFiles: writes the netlist and the pin constraints
    build: Callable[[DesignOptions, Board, Path], BuildFiles] | None = None
    #: board -> the clock (MHz) the design is timed at, when it is not the board's target
    #: (board tops pick their PLL's output; see :mod:`vitgates.fpga.board_design`)
    target_mhz: Callable[[Board], float] | None = None
    #: (options, board) -> the clock (MHz), when the options choose it (overrides target_mhz)
    target_mhz_for: Callable[[DesignOptions, Board], float] | None = None
