"""``Framer``: packets into the bytes of frames, with magic, header check and CRC."""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.link.frames import MAGIC
from .crc import CRC8, CRC16, crc_next

__all__ = ["Framer", "PACKET_BYTE"]

#: A byte of a packet on its way to the framer: ``type, seq, length low, length high``, then
#: the payload; ``last`` marks the packet's final byte (the length high byte when empty).
PACKET_BYTE = data.StructLayout({"data": 8, "last": 1})


class Framer(wiring.Component):
    """Wrap each packet of ``i`` into a frame on ``o`` (format: :mod:`vitgates.golden.link.frames`).

    Attributes
    ----------
    i : In(stream.Signature(PACKET_BYTE))
        Packets: 4 header bytes (type, seq, length little-endian), then exactly ``length``
        payload bytes, ``last`` on the final byte. The framer trusts the length.
    o : Out(stream.Signature(8))
        Frame bytes: magic, the 4 header bytes, hcrc, payload, CRC-16 (high byte first).

    Throughput: a frame of ``n`` payload bytes leaves in ``n + 9`` transfers; header and
    payload bytes pass through combinationally (``o.valid = i.valid``,
    ``i.ready = o.ready``), the magic waits for the packet's first byte to be valid, and
    the framer adds no cycle of its own between transfers.
    """

    i: In(stream.Signature(PACKET_BYTE))
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        crc8 = Signal(8)
        crc16 = Signal(16, init=0xFFFF)
        hidx = Signal(range(4))
        empty = Signal()  # the packet ended with its header
        byte = self.i.payload.data
        take = Signal()
        m.d.comb += take.eq(self.i.valid & self.o.ready)

        def through():
            m.d.comb += [self.o.payload.eq(byte), self.o.valid.eq(self.i.valid),
                         self.i.ready.eq(self.o.ready)]
            with m.If(take):
                m.d.sync += crc16.eq(crc_next(crc16, byte, *CRC16))

        with m.FSM():
            with m.State("MAGIC0"):
                m.d.comb += [self.o.payload.eq(MAGIC[0]), self.o.valid.eq(self.i.valid)]
                with m.If(take):
                    m.d.sync += [crc8.eq(0), crc16.eq(0xFFFF), hidx.eq(0)]
                    m.next = "MAGIC1"
            with m.State("MAGIC1"):
                m.d.comb += [self.o.payload.eq(MAGIC[1]), self.o.valid.eq(1)]
                with m.If(self.o.ready):
                    m.next = "HEADER"
            with m.State("HEADER"):
                through()
                with m.If(take):
                    m.d.sync += [crc8.eq(crc_next(crc8, byte, *CRC8)), hidx.eq(hidx + 1)]
                    with m.If(hidx == 3):
                        m.d.sync += empty.eq(self.i.payload.last)
                        m.next = "HCRC"
            with m.State("HCRC"):
                m.d.comb += [self.o.payload.eq(crc8), self.o.valid.eq(1)]
                with m.If(self.o.ready):
                    m.d.sync += crc16.eq(crc_next(crc16, crc8, *CRC16))
                    with m.If(empty):
                        m.next = "CRC_HI"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                through()
                with m.If(take & self.i.payload.last):
                    m.next = "CRC_HI"
            with m.State("CRC_HI"):
                m.d.comb += [self.o.payload.eq(crc16[8:]), self.o.valid.eq(1)]
                with m.If(self.o.ready):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                m.d.comb += [self.o.payload.eq(crc16[:8]), self.o.valid.eq(1)]
                with m.If(self.o.ready):
                    m.next = "MAGIC0"
        return m
