"""Small stream blocks: a FIFO, a skid buffer and a one-stage register.

Each is a ``wiring.Component`` with a stream ``i`` in and a stream ``o`` out of the same
payload shape, joined to its neighbours with ``wiring.connect``; a component uses these
instead of wiring a FIFO or a register by hand. Every block keeps the stream rules: once
``o.valid`` is high, ``o.valid`` and ``o.payload`` hold until the transfer; ``o.valid`` never
depends on ``o.ready``.
"""

from amaranth import Module, Signal
from amaranth.hdl import Shape
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamFIFO", "SkidBuffer", "StreamRegister"]


class StreamFIFO(wiring.Component):
    """A stream through an :mod:`amaranth.lib.fifo` FIFO of ``depth`` entries.

    Parameters
    ----------
    shape : shape-castable
        The payload (a plain shape or a ``data`` layout).
    depth : int
        Entries.
    buffered : bool
        False: :class:`~amaranth.lib.fifo.SyncFIFO` (``o`` shows the head entry straight
        from the memory's asynchronous read: latency 1 cycle from ``i`` to ``o``).
        True: :class:`~amaranth.lib.fifo.SyncFIFOBuffered` (``o.payload`` from a register
        and a synchronous memory read, block RAM friendly; latency 1 cycle while nearly
        empty, 2 through the memory, and one more entry of storage).

    Attributes
    ----------
    i : In(stream.Signature(shape))
        ``i.ready`` while there is room (the FIFO's ``w_rdy``).
    o : Out(stream.Signature(shape))
        ``o.valid`` while an entry is held (``r_rdy``).
    level : Out(range(depth + 1))
        Entries held (the FIFO's ``level``), for a producer that judges room ahead.
    depth : int
        Entries, as the FIFO reports them.

    Throughput one transfer a cycle on each side; order and contents unchanged.
    """

    def __init__(self, shape, depth: int, *, buffered: bool = False):
        cls = fifo.SyncFIFOBuffered if buffered else fifo.SyncFIFO
        self._fifo = cls(width=Shape.cast(shape).width, depth=depth)
        self.depth = self._fifo.depth
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
            "level": Out(range(self.depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = q = self._fifo
        m.d.comb += [
            q.w_data.eq(self.i.payload),
            q.w_en.eq(self.i.valid),
            self.i.ready.eq(q.w_rdy),
            self.o.payload.eq(q.r_data),
            self.o.valid.eq(q.r_rdy),
            q.r_en.eq(self.o.ready),
            self.level.eq(q.level),
        ]
        return m


class SkidBuffer(wiring.Component):
    """Pass a stream through two registers so that ``i.ready`` is a flip-flop.

    A long backpressure chain (a consumer's ``ready`` feeding a producer's memory enables
    and counters in the same cycle) limits the clock; this breaks it. ``o.valid`` and
    ``o.payload`` come from a register; a second register catches the one transfer that
    arrives while ``o`` stalls.

    Attributes
    ----------
    i : In(stream.Signature(shape))
    o : Out(stream.Signature(shape))

    Latency 1 cycle; throughput one transfer per cycle; order and contents unchanged.
    """

    def __init__(self, shape):
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        skid_valid = Signal()
        skid = Signal.like(self.i.payload)
        m.d.comb += self.i.ready.eq(~skid_valid)
        with m.If(~self.o.valid | self.o.ready):
            with m.If(skid_valid):
                m.d.sync += [self.o.payload.eq(skid), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        with m.Elif(self.i.valid & self.i.ready):
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m


class StreamRegister(wiring.Component):
    """``o`` is ``i`` one cycle later.

    Attributes
    ----------
    i : In(stream.Signature(shape))
    o : Out(stream.Signature(shape))
        ``payload`` and ``valid`` come straight from flip-flops.

    Latency 1 cycle, throughput one transfer a cycle: the register takes a new payload
    whenever it is empty or its payload leaves in the same cycle (``i.ready = ~o.valid |
    o.ready``; ``ready`` stays combinational, which is short).
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m
