"""``UARTTransmitter``: a byte stream out of a pin as 8N1 serial."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .uart_rx import ACC_BITS, baud_increment

__all__ = ["UARTTransmitter"]


class UARTTransmitter(wiring.Component):
    """Send bytes as 8N1: start bit, 8 data bits LSB first, one stop bit.

    Parameters
    ----------
    clk_hz, baud : float
        Clock of the ``sync`` domain and line rate (bit timing as in
        :class:`~vitgates.hw.uart_rx.UARTReceiver`: a phase accumulator).

    Attributes
    ----------
    i : In(stream.Signature(8))
        Bytes to send, through a one-byte holding register (``ready`` is a flip-flop's: high
        while the register is empty). A byte taken while the line is idle starts its start
        bit two cycles later; back to back, a byte costs exactly 10 bit times (160 cycles at
        48 MHz and 3 Mbaud).
    tx : Out(1)
        The pin (idle high).
    """

    i: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, *, clk_hz: float, baud: float):
        self.clk_hz = clk_hz
        self.baud = baud
        self.increment = baud_increment(clk_hz, baud)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        acc = Signal(ACC_BITS)
        tick = Signal()
        m.d.comb += tick.eq((acc + self.increment) >> ACC_BITS)
        shreg = Signal(10, init=0x3FF)  # stop, data, start; shifted out from bit 0
        left = Signal(range(11))  # bits still to send, the current one included

        busy = Signal()
        last = Signal()  # the stop bit ends in this cycle
        # A holding register takes the next byte while one is sent, so that ``ready`` comes
        # from a flip-flop and the next start bit still follows the stop bit at once.
        hold = Signal(8)
        hold_valid = Signal()
        m.d.comb += [last.eq(busy & tick & (left == 1)), self.i.ready.eq(~hold_valid),
                     self.tx.eq(shreg[0])]
        with m.If(self.i.valid & ~hold_valid):
            m.d.sync += [hold.eq(self.i.payload), hold_valid.eq(1)]
        with m.If(hold_valid & (~busy | last)):
            # a byte started as the previous one ends keeps the accumulator's phase, so that
            # back-to-back bytes keep the exact rate of the accumulator
            m.d.sync += [
                shreg.eq(Cat(Const(0, 1), hold, Const(1, 1))),
                left.eq(10),
                acc.eq(Mux(busy, acc + self.increment, 0)),
                busy.eq(1),
                hold_valid.eq(0),
            ]
        with m.Elif(busy):
            m.d.sync += acc.eq(acc + self.increment)
            with m.If(tick):
                m.d.sync += [shreg.eq(Cat(shreg[1:], Const(1, 1))), left.eq(left - 1)]
                with m.If(left == 1):
                    m.d.sync += busy.eq(0)
        return m
