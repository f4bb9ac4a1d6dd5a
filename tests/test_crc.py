"""The link's CRCs: the golden functions against the catalogue's check values, and the
byte-parallel networks of ``hw/crc.py`` against the golden functions."""

import random

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from vitgates.golden.link.crc import crc8, crc16
from vitgates.golden.link.frames import encode_frame
from vitgates.hw.crc import CRC8, CRC16, crc_next


def test_check_values():
    # the CRC catalogue's check values for "123456789"
    assert crc8(b"123456789") == 0xF4  # CRC-8 (SMBus)
    assert crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE


def test_zero_residue():
    """A frame's checked bytes followed by their CRC (high byte first) leave a zero CRC."""
    frame = encode_frame(0x10, 7, bytes(range(200)))
    assert crc8(frame[2:7]) == 0
    assert crc16(frame[2:]) == 0


@pytest.mark.parametrize("spec,ref,init", [(CRC8, crc8, 0), (CRC16, crc16, 0xFFFF)],
                         ids=["crc8", "crc16"])
def test_network(spec, ref, init):
    width, _ = spec
    crc = Signal(width)
    byte = Signal(8)
    out = Signal(width)
    m = Module()
    m.d.comb += out.eq(crc_next(crc, byte, *spec))
    rng = random.Random(width)
    cases = [(0, 0), (init, 0), ((1 << width) - 1, 0xFF)] + [
        (rng.getrandbits(width), rng.getrandbits(8)) for _ in range(500)]

    async def bench(ctx):
        for c, b in cases:
            ctx.set(crc, c)
            ctx.set(byte, b)
            assert ctx.get(out) == ref(bytes([b]), c), (c, b)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
