"""The host link's frame format: frame types, error codes and the encoder of one frame.

One job: what a frame is (docs/link.md). A frame, in both directions::

    magic  A5 C3      2 bytes
    type              1 byte   (host -> board: 0x01..0x3F; replies: request | 0x80)
    seq               1 byte   (chosen by the host, echoed in the reply)
    length            2 bytes  little-endian, payload bytes (0..max_payload)
    hcrc              1 byte   CRC-8 (poly 0x07, init 0) of type, seq, length
    payload           length bytes
    crc               2 bytes  big-endian CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of
                               every byte after the magic (type .. payload, hcrc included)

Both CRCs are sent most significant byte first, so that the CRC of the checked bytes followed
by their CRC is zero: receivers check a residue of zero (:mod:`.crc`). The receiver is
:class:`~vitgates.golden.link.deframer.Deframer`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .crc import crc8, crc16

__all__ = [
    "MAGIC",
    "VERSION",
    "OVERHEAD",
    "MAX_PAYLOAD",
    "ERROR_BYTES",
    "Type",
    "Error",
    "Packet",
    "LinkError",
    "encode_frame",
    "frame_bytes",
    "link_images_per_second",
]

MAGIC = bytes([0xA5, 0xC3])
#: protocol version reported by INFO
VERSION = 1
#: bytes a frame adds to its payload: magic 2, type, seq, length 2, hcrc, crc 2
OVERHEAD = 9
#: largest payload the board tops accept (a power of two: a payload slot of the buffer)
MAX_PAYLOAD = 1024


class Type(enum.IntEnum):
    """Frame types. A reply's type is its request's type with bit 7 set."""

    PING = 0x01  # any payload -> PONG with the same payload
    INFO = 0x02  # empty -> INFO reply (LinkInfo)
    STATUS = 0x03  # empty -> STATUS reply (counters)
    CLASSIFY = 0x10  # feature_dim INT8 channels -> DECISION (1 byte)
    DET_WEIGHTS = 0x20  # detector: weight rows -> ack
    DET_THRESHOLDS = 0x21  # detector: thresholds -> ack
    DET_GRID = 0x22  # detector: grid cells -> ack; detections follow
    PONG = 0x81
    INFO_REPLY = 0x82
    STATUS_REPLY = 0x83
    DECISION = 0x90
    DET_WEIGHTS_ACK = 0xA0
    DET_THRESHOLDS_ACK = 0xA1
    DET_GRID_ACK = 0xA2
    DETECTIONS = 0xC0  # board -> host, unsolicited: records of the sparse detection stream
    FRAME_DONE = 0xC1  # board -> host, unsolicited: the detector finished a grid
    ERROR = 0xFF


class Error(enum.IntEnum):
    """Error codes: the first byte of an ERROR packet, and the index of their counters."""

    BAD_MAGIC = 1  # bytes outside a frame (one error per run of such bytes)
    BAD_HEADER = 2  # header check (hcrc) failed
    BAD_LENGTH = 3  # length above max_payload, or not the length the type needs
    BAD_CRC = 4  # frame CRC failed
    TIMEOUT = 5  # the line went idle inside a frame (a frame cut short)
    BUSY = 6  # no free payload slot: more frames in flight than the window allows
    BAD_TYPE = 7  # unknown frame type
    UNSUPPORTED = 8  # a command for a design this bitstream does not hold
    BAD_ORDER = 9  # detector data out of order


ERROR_BYTES = 4

# -- frames -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Packet:
    """A frame's content: ``type``, ``seq`` and ``payload``."""

    type: int
    seq: int
    payload: bytes = b""

    def encode(self) -> bytes:
        return encode_frame(self.type, self.seq, self.payload)

    @property
    def error(self) -> tuple[int, int, int, int] | None:
        """``(code, type, seq, info)`` of an ERROR packet, else None."""
        if self.type != Type.ERROR or len(self.payload) != ERROR_BYTES:
            return None
        return tuple(self.payload)

    def __repr__(self) -> str:
        try:
            t = Type(self.type).name
        except ValueError:
            t = f"0x{self.type:02x}"
        body = self.payload[:16].hex() + ("..." if len(self.payload) > 16 else "")
        return f"Packet({t}, seq={self.seq}, {len(self.payload)} bytes {body})"


@dataclass(frozen=True)
class LinkError:
    """A frame a receiver rejected: ``code`` (:class:`Error`), and the type and seq of the
    frame when its header was readable (else 0), ``info`` (BAD_MAGIC: the first stray byte)."""

    code: int
    type: int = 0
    seq: int = 0
    info: int = 0


def encode_frame(type_: int, seq: int, payload: bytes = b"") -> bytes:
    """The bytes of one frame (see the module docstring)."""
    payload = bytes(payload)
    if not 0 <= type_ <= 0xFF or not 0 <= seq <= 0xFF:
        raise ValueError("type and seq are bytes")
    if len(payload) > 0xFFFF:
        raise ValueError("payload longer than 65535 bytes")
    head = bytes([type_, seq]) + struct.pack("<H", len(payload))
    head += bytes([crc8(head)])
    c = crc16(head + payload)
    return MAGIC + head + payload + struct.pack(">H", c)


def frame_bytes(payload_len: int) -> int:
    """Bytes on the wire for a frame with ``payload_len`` payload bytes."""
    return OVERHEAD + payload_len


def link_images_per_second(baud: int, payload_len: int, bits_per_byte: int = 10) -> float:
    """Frames per second a ``baud`` line carries (8N1: 10 bits a byte), one per image."""
    return baud / (bits_per_byte * frame_bytes(payload_len))
