"""``BoardTop``: the bitstream a board runs: PLL, UART pins, the link and the designs, LEDs.

With a platform (amaranth-boards' ``ICEBreakerPlatform`` or ``ULX3S_85F_Platform``) the top
requests its pins: the oscillator into the PLL (:class:`~vitgates.fpga.pll.BoardClock`),
the FTDI UART, the LEDs. Without one (simulation) it has plain ports instead: ``clk``,
``rst``, ``uart_rx``, ``uart_tx`` and ``leds``; everything between pins and designs is the
same code.

LEDs: ``leds[0]`` blinks at 1 Hz (clock running, PLL locked), ``leds[1]`` / ``leds[2]`` light
for 50 ms after received / sent bytes, ``leds[3]`` for 200 ms after any link error,
``leds[4]`` shows the last person decision. The iCEBreaker has two: green is ``leds[0]``
or traffic, red is ``leds[3]``; the ULX3S shows all five on LEDs 0..4.
"""

import math

from amaranth import Cat, ClockDomain, ClockSignal, Elaboratable, Module, ResetSignal, Signal
from amaranth.lib import io

from ..hw.board_core import BoardCore
from ..hw.uart_rx import UARTReceiver
from ..hw.uart_tx import UARTTransmitter
from .boards import Board
from .pll import BoardClock

__all__ = ["BoardTop", "DEFAULT_BAUD"]

#: Line rate of the link: the FT2232H (iCEBreaker) and FT231X (ULX3S) both run 3 Mbaud
#: exactly (their 48 MHz / 16), the FT231X's highest rate.
DEFAULT_BAUD = 3_000_000


class _Stretch(Elaboratable):
    """``o`` is high for ``ticks`` ticks of ``tick`` (about 10 ms each) after a pulse on
    ``i``: a small counter instead of one counting clock cycles."""

    def __init__(self, tick, ticks: int):
        self.tick = tick
        self.ticks = ticks
        self.i = Signal()
        self.o = Signal()

    def elaborate(self, platform):
        m = Module()
        left = Signal(range(self.ticks + 1))
        with m.If(self.i):
            m.d.sync += left.eq(self.ticks)
        with m.Elif(self.tick & (left != 0)):
            m.d.sync += left.eq(left - 1)
        m.d.comb += self.o.eq(left != 0)
        return m


class BoardTop(Elaboratable):
    """The whole board design.

    Parameters
    ----------
    board : Board
        Which board (its oscillator and family pick the PLL; its platform the pins).
    clk_hz : int
        The ``sync`` clock the PLL makes (default: the board's target clock).
    baud : int
        UART line rate.
    person : (PersonConfig, form, pipeline) or None
        The person classifier to build.
    detector : dict or None
        The cofiber detector to build (keyword arguments of
        :class:`~vitgates.hw.cofiber_detector.CofiberDetector`), or None.
    timeout_us, timeout_cycles, slots, status_copies :
        Passed to :class:`~vitgates.hw.board_core.BoardCore`.
    """

    def __init__(self, board: Board, *, clk_hz: int | None = None, baud: int = DEFAULT_BAUD,
                 person=None, timeout_us: int = 20_000, timeout_cycles: int | None = None,
                 slots: int = 2, detector: dict | None = None, status_copies: bool = True):
        self.board = board
        self.clk_hz = int(clk_hz or board.target_mhz * 1e6)
        self.baud = int(baud)
        self.core = BoardCore(clk_hz=self.clk_hz, baud=self.baud, person=person,
                              timeout_us=timeout_us, timeout_cycles=timeout_cycles, slots=slots,
                              detector=detector, status_copies=status_copies)
        # simulation ports (used when elaborated without a platform)
        self.clk = Signal()
        self.rst = Signal()
        self.uart_rx = Signal(init=1)
        self.uart_tx = Signal(init=1)
        self.leds = Signal(8)

    @property
    def info(self):
        return self.core.info

    def ports(self) -> list:
        """Top-level ports of the simulation form."""
        return [self.clk, self.rst, self.uart_rx, self.uart_tx, self.leds]

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.rx = rx = UARTReceiver(clk_hz=self.clk_hz, baud=self.baud)
        m.submodules.tx = tx = UARTTransmitter(clk_hz=self.clk_hz, baud=self.baud)

        if platform is None:
            m.domains.sync = ClockDomain("sync")
            m.d.comb += [ClockSignal("sync").eq(self.clk), ResetSignal("sync").eq(self.rst),
                         rx.rx.eq(self.uart_rx), self.uart_tx.eq(tx.tx)]
        else:
            b = self.board
            clk_name = "clk12" if b.family == "ice40" else "clk25"
            m.submodules.clock = BoardClock(b.family, platform.request(clk_name, dir="-"),
                                            b.osc_mhz * 1e6, self.clk_hz)
            uart = platform.request("uart", 0, dir={"rx": "-", "tx": "-"})
            m.submodules.rx_pin = rx_pin = io.Buffer("i", uart.rx)
            m.submodules.tx_pin = tx_pin = io.Buffer("o", uart.tx)
            m.d.comb += [rx.rx.eq(rx_pin.i), tx_pin.o.eq(tx.tx)]

        m.d.comb += [
            core.i.payload.eq(rx.o.payload), core.i.valid.eq(rx.o.valid),
            rx.o.ready.eq(core.i.ready),
            tx.i.payload.eq(core.o.payload), tx.i.valid.eq(core.o.valid),
            core.o.ready.eq(tx.i.ready),
            core.uart.framing.eq(rx.framing_error), core.uart.overrun.eq(rx.overrun),
        ]

        # -- LEDs ----------------------------------------------------------------------------
        # A tick about every 10 ms (a power of two of cycles, registered) paces them all.
        k = max(1, round(math.log2(self.clk_hz / 100)))
        prescale = Signal(k)
        tick = Signal()
        m.d.sync += [prescale.eq(prescale + 1), tick.eq(prescale == (1 << k) - 1)]
        period_ms = (1 << k) * 1000 / self.clk_hz
        heartbeat = Signal()
        beat = Signal(range(64))
        with m.If(tick):
            with m.If(beat == round(500 / period_ms) - 1):
                m.d.sync += [beat.eq(0), heartbeat.eq(~heartbeat)]
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
        act = core.activity
        stretch = {}
        for name, pulse, ms in (("rx", act.rx, 50), ("tx", act.tx, 50), ("err", act.error, 200)):
            m.submodules[f"led_{name}"] = s = _Stretch(tick, max(2, round(ms / period_ms)))
            m.d.comb += s.i.eq(pulse)
            stretch[name] = s.o
        leds = Cat(heartbeat, stretch["rx"], stretch["tx"], stretch["err"], act.person)

        if platform is None:
            m.d.comb += self.leds.eq(leds)
        elif self.board.family == "ice40":
            green = platform.request("led_g", 0)
            red = platform.request("led_r", 0)
            m.d.comb += [green.o.eq(heartbeat | stretch["rx"] | stretch["tx"]),
                         red.o.eq(stretch["err"])]
        else:
            for k in range(5):
                m.d.comb += platform.request("led", k).o.eq(leds[k])
        return m
