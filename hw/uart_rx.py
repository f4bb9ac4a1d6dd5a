"""``UARTReceiver``: 8N1 serial bytes from a pin into a byte stream.

Bit timing comes from a phase accumulator rather than an integer divider, so any clock can
serve any baud rate (the ECP5 top runs 3 Mbaud from 100 MHz, 33.3 cycles a bit): each cycle
adds ``increment = round(baud · 2**bits / clk_hz)``; a carry out of the accumulator is one
bit time. The accumulated rate error is that of the rounding (below 0.03 % for the rates
used here, see :func:`baud_increment`), and each sampling instant is within one clock cycle
of its ideal place.
"""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTReceiver", "baud_increment", "ACC_BITS"]

#: width of the bit-timing accumulators
ACC_BITS = 16


def baud_increment(clk_hz: float, baud: float, bits: int = ACC_BITS,
                   max_error: float = 0.002) -> int:
    """Phase increment per clock cycle for ``baud`` at ``clk_hz``.

    Raises ``ValueError`` when the clock gives fewer than 4 cycles a bit or when rounding
    the increment moves the rate by more than ``max_error`` (relative).
    """
    if clk_hz < 4 * baud:
        raise ValueError(f"{clk_hz / 1e6:g} MHz is too slow for {baud:g} baud "
                         "(at least 4 cycles a bit)")
    inc = round(baud * (1 << bits) / clk_hz)
    actual = inc * clk_hz / (1 << bits)
    if abs(actual - baud) / baud > max_error:
        raise ValueError(f"{baud:g} baud at {clk_hz / 1e6:g} MHz: {bits}-bit accumulator gives "
                         f"{actual:.0f} baud")
    return inc


class UARTReceiver(wiring.Component):
    """Receive 8N1 bytes (start bit, 8 data bits LSB first, stop bit) from ``rx``.

    Parameters
    ----------
    clk_hz, baud : float
        Clock of the ``sync`` domain and line rate.

    Attributes
    ----------
    rx : In(1)
        The pin, asynchronous: a two-flip-flop :class:`FFSynchronizer` is inside.
    o : Out(stream.Signature(8))
        Received bytes. A byte appears about 9.5 bit times after its start edge (plus two
        cycles of synchronisation) and is held until taken.
    framing_error : Out(1)
        One-cycle pulse (registered): a byte without its stop bit (the byte is dropped).
    overrun : Out(1)
        One-cycle pulse (registered): a byte arrived while the previous one was still
        untaken on ``o`` (the new byte is dropped). The link takes a byte within two cycles,
        so it never fires there.

    A falling edge on the idle line starts a byte; the start bit is checked in its middle
    (a glitch shorter than half a bit is ignored). After a framing error the receiver waits
    for the line to return high before it looks for the next start edge.
    """

    rx: In(1, init=1)
    o: Out(stream.Signature(8))
    framing_error: Out(1)
    overrun: Out(1)

    def __init__(self, *, clk_hz: float, baud: float):
        self.clk_hz = clk_hz
        self.baud = baud
        self.increment = baud_increment(clk_hz, baud)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        prev = Signal(init=1)
        m.d.sync += prev.eq(rx)

        acc = Signal(ACC_BITS)
        tick = Signal()
        m.d.comb += tick.eq((acc + self.increment) >> ACC_BITS)

        bit = Signal(range(10))  # 0: start, 1..8: data, 9: stop
        shreg = Signal(8)

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.sync += [self.framing_error.eq(0), self.overrun.eq(0)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(prev & ~rx):
                    # first sample half a bit after the edge
                    m.d.sync += [acc.eq(1 << (ACC_BITS - 1)), bit.eq(0)]
                    m.next = "BITS"
            with m.State("BITS"):
                m.d.sync += acc.eq(acc + self.increment)
                with m.If(tick):
                    m.d.sync += bit.eq(bit + 1)
                    with m.If(bit == 0):
                        with m.If(rx):
                            m.next = "IDLE"  # a glitch, not a start bit
                    with m.Elif(bit < 9):
                        m.d.sync += shreg.eq((shreg >> 1) | (rx << 7))
                    with m.Else():
                        with m.If(rx):
                            with m.If(self.o.valid & ~self.o.ready):
                                m.d.sync += self.overrun.eq(1)
                            with m.Else():
                                m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1)]
                        with m.Else():
                            m.d.sync += self.framing_error.eq(1)
                        m.next = "IDLE"
        return m
