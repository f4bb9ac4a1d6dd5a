"""cocotb drivers of the board: its top reset and driven through its UART pins, and its
link core driven through the core harness of ``tests/board_sim.py`` (``CoreHarness``).

The harness takes up to :attr:`ChunkDriver.CHUNK` bytes per toggle of ``in_go`` (``in_data``
byte 0 lowest, ``in_len`` bytes, one every ``gap`` cycles while ``in_busy``) and keeps the
last :attr:`ChunkDriver.WINDOW` bytes the core sent in ``o_window`` (the newest at the top),
their count in ``o_count``; the drivers turn those into link packets.
"""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer

from ..golden.link import Deframer
from .uart_model import DET_PACKETS, UARTSink, UARTSource

__all__ = ["ChunkDriver", "DetChunkDriver", "reset", "uart_pins"]


async def reset(dut, period_ns):
    """Start the clock on ``dut.clk`` (``period_ns`` a cycle) and hold ``dut.rst`` for 4
    cycles."""
    cocotb.start_soon(Clock(dut.clk, period_ns, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)


async def uart_pins(dut, period_ns, cycles_per_bit):
    """Reset the board top and put a UART model on its pins: ``(source on uart_rx, running
    sink on uart_tx, ns a bit)``."""
    bit_ns = period_ns * cycles_per_bit
    await reset(dut, period_ns)
    src = UARTSource(dut.uart_rx, bit_ns)
    sink = UARTSink(dut.uart_tx, bit_ns)
    cocotb.start_soon(sink.run())
    return src, sink, bit_ns


class ChunkDriver:
    """Bytes into the core harness a chunk at a time; its output bytes as packets."""

    CHUNK = 64
    WINDOW = 256

    def __init__(self, dut, period, gap):
        self.dut = dut
        self.period = period
        self.gap = gap
        self.go = 0
        self.seen = 0  # output bytes read so far
        self.deframer = Deframer()
        self.packets = []
        dut.in_go.value = 0

    async def send(self, data):
        for k in range(0, len(data), self.CHUNK):
            chunk = data[k:k + self.CHUNK]
            self.dut.in_data.value = int.from_bytes(chunk, "little")
            self.dut.in_len.value = len(chunk)
            self.go ^= 1
            self.dut.in_go.value = self.go
            await Timer((len(chunk) * self.gap + 3) * self.period, unit="ns")
            assert not int(self.dut.in_busy.value), "the core did not take its bytes"

    def collect(self):
        n = int(self.dut.o_count.value)
        new = (n - self.seen) & 0xFFFF
        if new > self.WINDOW:
            raise AssertionError(f"{new} output bytes at once: more than the window")
        if new:
            window = int(self.dut.o_window.value).to_bytes(self.WINDOW, "little")
            self.packets += self.deframer.feed(window[self.WINDOW - new:])
        self.seen = n

    async def wait_packets(self, n, what, budget_cycles=40_000, step=24):
        waited = 0
        self.collect()
        while len(self.packets) < n:
            if waited > budget_cycles:
                raise AssertionError(f"{what}: {len(self.packets)} replies, expected {n}")
            await Timer(step * self.period, unit="ns")
            waited += step
            self.collect()


class DetChunkDriver(ChunkDriver):
    """:class:`ChunkDriver` for a core with a detector: records may stream out while the
    host sends, so the output is read after every chunk and pause step, and the packets are
    kept apart as replies and detection packets (DETECTIONS, FRAME_DONE)."""

    def __init__(self, dut, period, gap):
        super().__init__(dut, period, gap)
        self.replies = []
        self.detections = []

    def collect(self):
        n = len(self.packets)
        super().collect()
        for p in self.packets[n:]:
            (self.detections if p.type in DET_PACKETS else self.replies).append(p)

    async def send(self, data):
        for k in range(0, len(data), self.CHUNK):
            await super().send(data[k:k + self.CHUNK])
            self.collect()

    async def pause(self, cycles, step=200):
        while cycles > 0:
            await Timer(min(cycles, step) * self.period, unit="ns")
            cycles -= step
            self.collect()

    async def wait_for(self, n_replies, n_dets, what, budget_cycles=400_000, step=24):
        waited = 0
        self.collect()
        while len(self.replies) < n_replies or len(self.detections) < n_dets:
            if waited > budget_cycles:
                raise AssertionError(f"{what}: {len(self.replies)} replies and "
                                     f"{len(self.detections)} detection packets, expected "
                                     f"{n_replies} and {n_dets}")
            await Timer(step * self.period, unit="ns")
            waited += step
            self.collect()
