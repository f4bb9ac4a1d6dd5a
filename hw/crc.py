"""Byte-parallel CRC update networks for the link (``hw/framer.py``, ``hw/deframer.py``).

A CRC without reflection and without final xor is linear over GF(2): each bit of the next
register value is the XOR of some bits of the current register and of the byte shifted in.
:func:`crc_taps` finds those bits by running the bit-serial LFSR on symbols; :func:`crc_next`
turns them into Amaranth XOR trees (one level of LUT4s for most bits of CRC-8, two for
CRC-16). The reference functions are :func:`vitgates.golden.link.crc.crc8` and ``crc16``.
"""

from functools import cache, reduce
from operator import xor

from amaranth import Cat, Value

__all__ = ["CRC8", "CRC16", "crc_taps", "crc_next"]

#: (width, polynomial) of the header check and of the frame check
CRC8 = (8, 0x07)
CRC16 = (16, 0x1021)


@cache
def crc_taps(width: int, poly: int) -> tuple:
    """For each bit ``k`` of the next register: ``(crc_bits, data_bits)`` whose XOR it is.

    One step shifts in a byte, most significant bit first (no reflection).
    """
    # Each register bit is a set of symbols: ("c", i) for register bit i, ("d", j) for data
    # bit j; XOR of two sets is their symmetric difference.
    reg = [frozenset({("c", i)}) for i in range(width)]
    for j in range(7, -1, -1):
        fb = reg[width - 1] ^ frozenset({("d", j)})
        nxt = [frozenset()] * width
        for i in range(width - 1, 0, -1):
            nxt[i] = reg[i - 1]
        nxt[0] = frozenset()
        for i in range(width):
            if poly >> i & 1:
                nxt[i] = nxt[i] ^ fb
        reg = nxt
    return tuple(
        (tuple(sorted(i for k, i in bits if k == "c")),
         tuple(sorted(i for k, i in bits if k == "d")))
        for bits in reg
    )


def crc_next(crc: Value, byte: Value, width: int, poly: int) -> Value:
    """The register after shifting ``byte`` (8 bits) into ``crc`` (``width`` bits)."""
    bits = []
    for cbits, dbits in crc_taps(width, poly):
        terms = [crc[i] for i in cbits] + [byte[j] for j in dbits]
        bits.append(reduce(xor, terms) if terms else 0)
    return Cat(*bits)
