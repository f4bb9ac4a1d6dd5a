"""``SinglePortRAM``: one address, read or write per cycle; generic or iCE40 SPRAM.

The detector's weights (64,512 INT8 values for 84 rows × 768 channels) fit only in the
UP5K's four 256-Kbit SPRAMs. yosys infers SPRAM only for a memory without initial contents,
and an Amaranth ``Memory`` always has them, so the ``SPRAM`` implementation instantiates
``SB_SPRAM256KA`` cells itself: ``width / 16`` of them side by side, one per 16 bits.
"""

from amaranth import ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .detector_profile import MemoryKind

__all__ = ["SinglePortRAM", "SPRAM_DEPTH", "SPRAM_WIDTH"]

SPRAM_DEPTH = 16384
SPRAM_WIDTH = 16


class SinglePortRAM(wiring.Component):
    """``depth`` words of ``width`` bits behind one address port.

    Attributes
    ----------
    addr : In(range(depth))
    we : In(1)
        Write ``wdata`` at ``addr`` at the next edge.
    wdata : In(width)
    re : In(1)
        Read ``addr`` (ignored while ``we``): ``rdata`` shows the word after the next edge.
    rdata : Out(width)
        Holds its value over cycles without a read; undefined after a write (the SPRAM
        model drives X there), so a reader must read again after writing.

    ``impl`` (:class:`~vitgates.hw.detector_profile.MemoryKind`, or its value): ``GENERIC``
    (an Amaranth ``Memory``: simulation, ECP5 block RAM) or ``SPRAM`` (iCE40 UltraPlus
    ``SB_SPRAM256KA``; ``width`` a multiple of 16 and at most 64, ``depth`` at most 16,384).
    """

    def __init__(self, *, width: int, depth: int, impl: MemoryKind = MemoryKind.GENERIC):
        impl = MemoryKind.parse(impl, "SinglePortRAM impl")
        if impl is MemoryKind.SPRAM and (width % SPRAM_WIDTH or width > 4 * SPRAM_WIDTH
                                or depth > SPRAM_DEPTH):
            raise ValueError(f"SPRAM: width must be 16, 32, 48 or 64 and depth at most "
                             f"{SPRAM_DEPTH}, got {width} x {depth}")
        self.width, self.depth, self.impl = width, depth, impl
        super().__init__({
            "addr": In(range(depth)),
            "we": In(1),
            "wdata": In(width),
            "re": In(1),
            "rdata": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        if self.impl is MemoryKind.GENERIC:
            m.submodules.mem = mem = Memory(shape=self.width, depth=self.depth, init=[])
            wr = mem.write_port()
            rd = mem.read_port()
            m.d.comb += [
                wr.addr.eq(self.addr), wr.data.eq(self.wdata), wr.en.eq(self.we),
                rd.addr.eq(self.addr), rd.en.eq(self.re & ~self.we),
                self.rdata.eq(rd.data),
            ]
            return m

        addr = Signal(14)
        m.d.comb += addr.eq(self.addr)
        for k in range(self.width // SPRAM_WIDTH):
            dout = Signal(SPRAM_WIDTH, name=f"dout{k}")
            m.submodules[f"spram{k}"] = Instance(
                "SB_SPRAM256KA",
                i_ADDRESS=addr,
                i_DATAIN=self.wdata[SPRAM_WIDTH * k:SPRAM_WIDTH * (k + 1)],
                i_MASKWREN=Const(0b1111, 4),
                i_WREN=self.we,
                i_CHIPSELECT=self.we | self.re,
                i_CLOCK=ClockSignal(),
                i_STANDBY=Const(0, 1),
                i_SLEEP=Const(0, 1),
                i_POWEROFF=Const(1, 1),
                o_DATAOUT=dout,
            )
            m.d.comb += self.rdata[SPRAM_WIDTH * k:SPRAM_WIDTH * (k + 1)].eq(dout)
        return m
