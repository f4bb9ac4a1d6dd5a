"""The link's two checks: CRC-8 of a frame header, CRC-16/CCITT-FALSE of a frame.

The references of ``hw/crc.py``. Standard library only.
"""

from __future__ import annotations

import binascii

__all__ = ["crc8", "crc16"]


def _crc8_table() -> list[int]:
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        table.append(c)
    return table


_CRC8 = _crc8_table()


def crc8(data: bytes, crc: int = 0) -> int:
    """CRC-8 (poly 0x07, init 0, no reflection, no final xor): the header check."""
    for b in data:
        crc = _CRC8[crc ^ b]
    return crc


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): the frame check."""
    return binascii.crc_hqx(bytes(data), crc)
