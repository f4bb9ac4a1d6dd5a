"""The byte gearbox: wide stream payloads to and from byte streams.

A byte link carries a wide payload (a detector record is 172 bits on the full-size
detector) a byte at a time, least significant byte first. :class:`ByteGather` assembles
bytes into one payload; :class:`ByteScatter` sends a payload as bytes. Both the link's
:class:`~vitgates.hw.byte_detector.ByteDetector` and the detector's synthesis top
(``fpga/detector_design.py``) put the detector behind these two. The byte order is that of
the golden packer (:mod:`vitgates.golden.payload`): the payload's bits, little-endian.
"""

from amaranth import Cat, Module, Mux, Signal, Value
from amaranth.hdl import Shape
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ByteGather", "ByteScatter", "payload_bytes"]


def payload_bytes(shape) -> int:
    """Bytes of a payload of ``shape`` on a byte stream: ``ceil(width / 8)``."""
    return -(-Shape.cast(shape).width // 8)


class ByteGather(wiring.Component):
    """Bytes in, one ``shape`` payload out per ``stride`` bytes.

    The first ``payload_bytes(shape)`` bytes of each group are the payload's, least
    significant first (bits above the payload's width are dropped); the rest of the
    ``stride`` bytes (padding) are taken and dropped.

    Parameters
    ----------
    shape : shape-castable
        The payload of ``o``.
    stride : int
        Bytes per payload on ``i`` (default and minimum: ``payload_bytes(shape)``).

    Attributes
    ----------
    i : In(stream.Signature(8))
    o : Out(stream.Signature(shape))
        ``payload`` and ``valid`` straight from flip-flops.

    Throughput ``stride`` bytes in ``stride + 1`` cycles at best: ``i.ready`` is a
    flip-flop's (``~o.valid``), so a complete payload waits one cycle before the next byte
    is taken, and longer while ``o`` stalls. Every enable is one LUT deep (a ``last`` flag
    instead of a comparison of the count): the shift register's enable fans out wide.
    """

    def __init__(self, shape, *, stride: int | None = None):
        self.width = Shape.cast(shape).width
        self.n = payload_bytes(shape)
        self.stride = self.n if stride is None else stride
        if self.stride < self.n:
            raise ValueError(f"stride {self.stride} below the payload's {self.n} bytes")
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        n, stride = self.n, self.stride
        buf = Signal(8 * n)
        last = Signal(init=stride == 1)  # the next byte completes the group
        cnt = Signal(range(stride))
        m.d.comb += [self.o.payload.eq(buf[:self.width]), self.i.ready.eq(~self.o.valid)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            if stride == n:
                m.d.sync += buf.eq(Cat(buf[8:], self.i.payload))
            else:
                with m.If(cnt < n):  # the rest is padding
                    m.d.sync += buf.eq(Cat(buf[8:], self.i.payload))
            with m.If(last):
                m.d.sync += [self.o.valid.eq(1), cnt.eq(0), last.eq(stride == 1)]
            with m.Else():
                m.d.sync += [cnt.eq(cnt + 1), last.eq(cnt == stride - 2)]
        return m


class ByteScatter(wiring.Component):
    """One ``shape`` payload in, ``payload_bytes(shape)`` bytes out, least significant first.

    Two ways to send, chosen by ``copy``:

    - ``copy=False``: the bytes are read in place from ``i.payload`` through a byte
      multiplexer (no copy: for a design short of flip-flops, the iCE40 board bitstream);
      the payload is taken when its last byte leaves. ``o.valid`` is ``i.valid``,
      ``o.payload`` a multiplexer on ``i.payload``: latency 0 (combinational from ``i``).
    - ``copy=True``: the payload is taken into a shift register as soon as the last one has
      left, and shifted out a byte a cycle. ``o`` comes from flip-flops and ``i.ready`` is
      one (the register is empty): latency 1 cycle. This keeps the payload's multiplexer
      out of the placement around the source, which nextpnr rewards on the UP5K's detector
      (with the copy 47.6, 48.1 and 44.8 MHz for placement seeds 1 to 3; read in place
      38 to 44 MHz).

    Attributes
    ----------
    i : In(stream.Signature(shape))
    o : Out(stream.Signature(8))

    Throughput one byte a cycle (``copy=True``: ``n`` bytes in ``n + 1`` cycles at best,
    the cycle that takes the next payload).
    """

    def __init__(self, shape, *, copy: bool = False):
        self.n = payload_bytes(shape)
        self.copy = copy
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        n = self.n
        raw = Value.cast(self.i.payload)
        if self.copy:
            shreg = Signal(8 * n)
            left = Signal(range(n + 1))
            empty = Signal(init=1)  # left == 0, as a flip-flop
            m.d.comb += [self.o.valid.eq(~empty), self.o.payload.eq(shreg[:8]),
                         self.i.ready.eq(empty)]
            with m.If(self.i.valid & empty):
                m.d.sync += [shreg.eq(raw), left.eq(n), empty.eq(0)]
            with m.If(self.o.valid & self.o.ready):
                m.d.sync += [shreg.eq(shreg[8:]), left.eq(left - 1), empty.eq(left == 1)]
            return m
        idx = Signal(range(n))
        with m.Switch(idx):
            for k in range(n):
                with m.Case(k):
                    m.d.comb += self.o.payload.eq(raw[8 * k:8 * k + 8])
        m.d.comb += [
            self.o.valid.eq(self.i.valid),
            self.i.ready.eq(self.o.ready & (idx == n - 1)),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += idx.eq(Mux(idx == n - 1, 0, idx + 1))
        return m
