"""The cofiber detector's profiles: every configuration it is built in, in one typed table.

A :class:`DetectorProfile` fixes what a :class:`~vitgates.hw.cofiber_detector.CofiberDetector`
is built with beside the shape of its grid and head: the MAC-array folding, the multiplier
and weight-memory primitives, the FIFO between the classifier and the bands, the box rows
and the clock it runs at. :data:`PROFILES` holds one per use:

- per board, the detector alone (``vitgates synth --design detector``): ``icebreaker``
  (UP5K) and ``ulx3s-85f`` (ECP5-85F);
- per board, the detector inside the board's bitstream, with the host link beside it
  (``--design board``): ``icebreaker-board`` and ``ulx3s-85f-board``;
- per simulation level of the regression: ``rtl`` (the wide folding RTL runs at),
  ``generic-dsp`` (the netlist whose multipliers stay hard cells, run at the RTL's folding)
  and ``gate`` (the all-gates ``generic`` netlist and the vendor ones).

:func:`detector_profile` finds one by name or by board. The folding's own type,
:class:`~vitgates.golden.detector.Folding`, stays with the golden model that packs the
weights for it.
"""

import enum
import re
from dataclasses import dataclass, replace
from types import MappingProxyType

from ..errors import VitgatesError
from ..golden.detector import Folding
from ..golden.detector_head import BOX_ROWS

__all__ = ["DetectorProfile", "MemoryKind", "MultiplierKind", "PROFILES", "ProfileError",
           "detector_profile"]


class ProfileError(VitgatesError, ValueError):
    """A profile name, board or primitive kind that the table does not know. A
    :class:`ValueError` too, as the units' other parameter checks are."""


class _Kind(enum.Enum):
    @classmethod
    def parse(cls, value, what: str | None = None):
        """``value`` as a member: a member itself or its value (``"generic"``); anything else
        is a :class:`ProfileError` naming ``what`` (the parameter) and the known values."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(k.value for k in cls)
            where = f"{what}: " if what else ""
            noun = " ".join(re.findall("[A-Z][a-z]*", cls.__name__)).lower()
            raise ProfileError(f"{where}unknown {noun} {value!r} (known: {known})") from None


class MultiplierKind(_Kind):
    """How :class:`~vitgates.hw.dual_mul8.DualMul8` forms its two INT8 products."""

    #: Amaranth ``*``: simulation, and the ECP5, where yosys maps it to its DSP blocks
    GENERIC = "generic"
    #: an iCE40 ``SB_MAC16`` instance in dual 8×8 mode, as simulated against yosys's model
    #: of the cell (``cells_sim.v``)
    SB_MAC16 = "sb_mac16"
    #: the same cell under nextpnr-ice40's packed name ``ICESTORM_DSP``, for synthesis
    #: (``synth_ice40 -dsp`` would rewrite an ``SB_MAC16`` into its 16×16 mode)
    ICESTORM_DSP = "icestorm_dsp"


class MemoryKind(_Kind):
    """How :class:`~vitgates.hw.single_port_ram.SinglePortRAM` stores the weights."""

    #: an Amaranth ``Memory``: simulation, ECP5 block RAM
    GENERIC = "generic"
    #: iCE40 UltraPlus ``SB_SPRAM256KA`` cells side by side, 16 bits each
    SPRAM = "spram"


@dataclass(frozen=True)
class DetectorProfile:
    """One configuration of the cofiber detector.

    Attributes
    ----------
    name : str
        The profile's key in :data:`PROFILES`.
    board : str or None
        The board (a key of :data:`vitgates.fpga.boards.BOARDS`) whose device it is built
        for; None for a simulation profile.
    folding : Folding
        The classifier's MAC array: ``pixels × rows × lanes`` multiply-accumulates per cycle
        from one weight word of ``rows × lanes`` INT8 weights.
    multiplier : MultiplierKind
        The primitive that forms the products, two per :class:`~vitgates.hw.dual_mul8.
        DualMul8`.
    memory : MemoryKind
        The primitive that holds the weights.
    fifo_depth : int
        Entries (each ``pixels`` accumulators) of the FIFO between the classifier and the
        bands stage; 0 for none.
    box_rows : int
        B, the box-regression rows of the head (4, or 0 for class decisions only). A
        simulation builds its detector for the head it runs; its profiles name the default
        head's.
    clock_mhz : float or None
        The clock, in MHz, the detector runs and is timed at; for a bitstream profile, that
        of a bitstream holding the detector alone (beside the person classifier the board's
        whole-bitstream clock applies, :data:`vitgates.fpga.board_design.BOARD_CLOCK_MHZ`).
        None for a simulation profile (no clock constraint).
    bitstream : bool
        True for the detector inside the board's bitstream (``--design board``: the host
        link beside it), False for the detector alone (``--design detector``) and for
        simulation.
    """

    name: str
    board: str | None
    folding: Folding
    multiplier: MultiplierKind
    memory: MemoryKind
    fifo_depth: int = 0
    box_rows: int = BOX_ROWS
    clock_mhz: float | None = None
    bitstream: bool = False

    def __post_init__(self):
        object.__setattr__(self, "multiplier",
                           MultiplierKind.parse(self.multiplier, f"profile {self.name}"))
        object.__setattr__(self, "memory", MemoryKind.parse(self.memory, f"profile {self.name}"))
        if self.fifo_depth < 0:
            raise ProfileError(f"profile {self.name}: fifo_depth must be at least 0, got "
                               f"{self.fifo_depth}")
        if self.box_rows < 0:
            raise ProfileError(f"profile {self.name}: box_rows must be at least 0, got "
                               f"{self.box_rows}")
        if self.clock_mhz is not None and self.clock_mhz <= 0:
            raise ProfileError(f"profile {self.name}: clock_mhz must be positive, got "
                               f"{self.clock_mhz}")

    def simulated(self) -> "DetectorProfile":
        """This profile with generic multipliers and memory: the same circuit, simulated
        without the vendor primitives' cell models."""
        return replace(self, multiplier=MultiplierKind.GENERIC, memory=MemoryKind.GENERIC)

    def detector_args(self) -> dict:
        """The :class:`~vitgates.hw.cofiber_detector.CofiberDetector` keyword arguments it
        fixes: ``folding``, ``mul``, ``ram``, ``fifo_depth``, ``box_rows``."""
        return {"folding": self.folding, "mul": self.multiplier, "ram": self.memory,
                "fifo_depth": self.fifo_depth, "box_rows": self.box_rows}


_M, _R = MultiplierKind, MemoryKind

#: Every profile of the detector, by name.
PROFILES = MappingProxyType({p.name: p for p in (
    # The UP5K: 2 pixels × 4 rows × 2 lanes = 16 MACs per cycle on its 8 SB_MAC16 in dual
    # 8×8 mode, the 64,512 weights in its 4 SPRAMs read 8 per cycle (64 bits): the DSP bound
    # and the weight-bandwidth bound both 16 MACs per cycle, and 84 rows are 21 passes of 4.
    # Timed at the board's 48 MHz.
    DetectorProfile("icebreaker", "icebreaker", Folding(pixels=2, rows=4, lanes=2),
                    _M.ICESTORM_DSP, _R.SPRAM, clock_mhz=48.0),
    # In the board's bitstream, without box regression (class decisions only): the box
    # registers and the wider records cost about 300 logic cells, and with them the design
    # does not place (5,226 of 5,280 cells, measured). A bitstream of the link and the
    # detector fills 91 % of the logic cells, and its routes reached 27 to 35 MHz when timed
    # at 36 (measured); at 30 MHz, 10 cycles a bit at 3 Mbaud exactly, it meets 33.7 MHz.
    DetectorProfile("icebreaker-board", "icebreaker", Folding(pixels=2, rows=4, lanes=2),
                    _M.ICESTORM_DSP, _R.SPRAM, box_rows=0, clock_mhz=30.0, bitstream=True),
    # The ECP5-85F: 64 MACs per cycle in its DSP blocks, the weights in block RAM. Timed at
    # 80 MHz: its critical path (the bands stage's read-modify-write through block RAM)
    # reaches about 90 MHz, short of the board's 100 MHz default.
    DetectorProfile("ulx3s-85f", "ulx3s-85f", Folding(pixels=4, rows=4, lanes=4),
                    _M.GENERIC, _R.GENERIC, clock_mhz=80.0),
    # In the board's bitstream, at the bitstream's 75 MHz (25 cycles a bit at 3 Mbaud).
    DetectorProfile("ulx3s-85f-board", "ulx3s-85f", Folding(pixels=4, rows=4, lanes=4),
                    _M.GENERIC, _R.GENERIC, clock_mhz=75.0, bitstream=True),
    # RTL simulation of full frames: 384 MACs per cycle, 84 rows in 14 passes. There the
    # classifier needs 2,688 cycles per 4×4 block, and the bands stage refuses input for up
    # to 756 cycles while it emits a block's bands: without a FIFO the classifier waits on
    # it, 413,667 cycles per 40×40×768 frame (1.54 × the MAC bound of 268,800); 64 entries
    # give 289,852, 128 give 270,743 (1.007 ×), measured in Verilator with the regression's
    # stalls.
    DetectorProfile("rtl", None, Folding(pixels=4, rows=6, lanes=16), _M.GENERIC, _R.GENERIC,
                    fifo_depth=128),
    # The generic-dsp netlist, whose 384 multipliers stay hard cells, at the RTL's folding:
    # ~51k cells, built in ~1.5 min, ~7 s per frame (benchmarks/bench_regress.py).
    DetectorProfile("generic-dsp", None, Folding(pixels=4, rows=6, lanes=16), _M.GENERIC,
                    _R.GENERIC, fifo_depth=128),
    # The all-gates generic netlist (and the vendor ones): 64 MACs per cycle. A wider array
    # is proportionally more gates for fewer cycles, and the netlist's C++ build grows faster
    # than that: at the RTL's folding the generic netlist is ~204k cells, synthesised in
    # ~3 min, built in ~8.5 min at -O1 (its -O2 build did not finish in 16 minutes) and runs
    # a 40×40×768 frame in ~105 s; here it is ~39k cells, synthesised in ~40 s, built in ~65 s
    # at -O1, ~30 s per frame (1.66 million cycles), decisions identical to the INT8 model in
    # both (a loaded two-core machine). The classifier is 7 times slower than the bands
    # stage: no FIFO.
    DetectorProfile("gate", None, Folding(pixels=4, rows=4, lanes=4), _M.GENERIC, _R.GENERIC),
)})


def detector_profile(name: str | None = None, *, board: str | None = None,
                     bitstream: bool = False) -> DetectorProfile:
    """The profile called ``name``, or the one of ``board`` (a board's name): the detector
    alone, or with ``bitstream`` the one inside the board's bitstream. An unknown name or
    board is a :class:`ProfileError`."""
    if (name is None) == (board is None):
        raise ProfileError("detector_profile: name a profile or a board, not both or neither")
    if name is not None:
        try:
            return PROFILES[name]
        except KeyError:
            raise ProfileError(f"unknown detector profile {name!r} (known: "
                               f"{', '.join(PROFILES)})") from None
    for p in PROFILES.values():
        if p.board == board and p.bitstream == bitstream:
            return p
    boards = sorted({p.board for p in PROFILES.values() if p.board})
    raise ProfileError(f"the detector has no {'bitstream ' if bitstream else ''}profile for "
                       f"board {board!r} (known: {', '.join(boards)})")
