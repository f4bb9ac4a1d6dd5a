"""``StreamRegister``: one pipeline register in a stream, to cut a combinational path."""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamRegister"]


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
