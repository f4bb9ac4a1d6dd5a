"""A UART model for cocotb: 8N1 bytes driven on a pin and received from one, the received
bytes deframed into packets of the board's link (docs/link.md).

Timing is in simulated nanoseconds, ``bit_ns`` a bit: the testbench's clock period times
the UART's cycles a bit. :class:`UARTSink` samples each bit in its middle and counts a byte
whose stop bit is low as a framing error (it keeps the byte).
"""

import cocotb
from cocotb.triggers import Event, FallingEdge, First, Timer

from ..golden.link import Deframer, Type

__all__ = ["DET_PACKETS", "UARTSink", "UARTSource"]

#: packets the board sends unprompted: the detector's records
DET_PACKETS = (Type.DETECTIONS, Type.FRAME_DONE)


class UARTSource:
    """Drive 8N1 bytes on a pin, ``bit_ns`` a bit."""

    def __init__(self, pin, bit_ns):
        self.pin = pin
        self.bit_ns = bit_ns
        self.pin.value = 1

    async def send(self, data, *, stop=1):
        for b in bytes(data):
            for bit in (0, *(b >> k & 1 for k in range(8)), stop):
                self.pin.value = bit
                await Timer(self.bit_ns, unit="ns")
        self.pin.value = 1


class UARTSink:
    """Receive 8N1 bytes from a pin; :attr:`packets` are the frames they form."""

    def __init__(self, pin, bit_ns):
        self.pin = pin
        self.bit_ns = bit_ns
        self.data = bytearray()
        self.deframer = Deframer()
        self.packets = []
        self.changed = Event()
        self.framing_errors = 0
        self.last_ns = 0  # when the last byte arrived

    async def run(self):
        while True:
            await FallingEdge(self.pin)
            await Timer(self.bit_ns * 3 // 2, unit="ns")
            b = 0
            for k in range(8):
                b |= int(self.pin.value) << k
                await Timer(self.bit_ns, unit="ns")
            if not int(self.pin.value):
                self.framing_errors += 1
            self.data.append(b)
            self.packets += self.deframer.feed([b])
            self.last_ns = cocotb.utils.get_sim_time("ns")
            self.changed.set()

    @property
    def replies(self) -> list:
        """The packets that answer frames (not the detector's)."""
        return [p for p in self.packets if p.type not in DET_PACKETS]

    @property
    def detections(self) -> list:
        return [p for p in self.packets if p.type in DET_PACKETS]

    async def wait_packets(self, n, timeout_ns, count=None):
        """Wait until ``count(self)`` (default: all packets) reaches ``n``."""
        count = count or (lambda sink: len(sink.packets))
        deadline = cocotb.utils.get_sim_time("ns") + timeout_ns
        while count(self) < n:
            left = deadline - cocotb.utils.get_sim_time("ns")
            if left <= 0:
                raise AssertionError(f"{len(self.packets)} reply packets, expected {n}: "
                                     f"{self.packets[-3:]}")
            self.changed.clear()
            await First(self.changed.wait(), Timer(left, unit="ns"))
