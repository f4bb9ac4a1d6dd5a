"""The link's receiver, byte by byte: the reference of ``hw/deframer.py``.

One job: turning a byte stream into frames and rejections (the rules of docs/link.md).
"""

from __future__ import annotations

from .crc import crc8, crc16
from .frames import MAGIC, MAX_PAYLOAD, Error, LinkError, Packet

__all__ = ["Deframer"]


class Deframer:
    """Byte-by-byte frame receiver: the reference of ``hw/deframer.py``.

    :meth:`feed` takes bytes and returns what they completed: :class:`Packet` for good
    frames, :class:`LinkError` for rejected ones; :meth:`idle` is a silence of at least the
    timeout. Rules (docs/link.md):

    - outside a frame, a byte that does not start the magic is skipped; the first skipped
      byte after a frame boundary (power-up, the end of a frame, an error, a silence) raises
      one BAD_MAGIC; ``A5 A5 C3`` skips the first ``A5`` and syncs on the second;
    - a header whose hcrc fails raises BAD_HEADER, a length above ``max_payload`` raises
      BAD_LENGTH; both return to the hunt *inside a run* (the rest of that frame is skipped
      without a BAD_MAGIC);
    - a complete frame whose CRC fails raises BAD_CRC;
    - a silence inside a frame (after the magic) raises TIMEOUT; after a lone first magic
      byte it counts as a skipped byte.
    """

    def __init__(self, max_payload: int = MAX_PAYLOAD):
        self.max_payload = max_payload
        self.skipped = 0  # bytes outside frames
        self._reset(in_run=False)

    def _reset(self, *, in_run: bool):
        self.state = "HUNT"
        self.in_run = in_run
        self.head = bytearray()
        self.payload = bytearray()
        self.length = 0
        self.crc = b""

    def _skip(self, byte: int, out: list):
        self.skipped += 1
        if not self.in_run:
            out.append(LinkError(Error.BAD_MAGIC, info=byte))
            self.in_run = True

    def feed(self, data) -> list:
        out: list = []
        for b in bytes(data):
            self._byte(b, out)
        return out

    def _byte(self, b: int, out: list):
        s = self.state
        if s == "HUNT":
            if b == MAGIC[0]:
                self.state = "MAGIC1"
            else:
                self._skip(b, out)
        elif s == "MAGIC1":
            if b == MAGIC[1]:
                self.state = "HEADER"
                self.head = bytearray()
            elif b == MAGIC[0]:
                self._skip(MAGIC[0], out)  # the first A5 was stray; this one may start
            else:
                self._skip(MAGIC[0], out)
                self.skipped += 1
                self.state = "HUNT"
        elif s == "HEADER":
            self.head.append(b)
            if len(self.head) == 5:
                t, q = self.head[0], self.head[1]
                self.length = self.head[2] | self.head[3] << 8
                if crc8(bytes(self.head)) != 0:
                    out.append(LinkError(Error.BAD_HEADER))
                    self._reset(in_run=True)
                elif self.length > self.max_payload:
                    out.append(LinkError(Error.BAD_LENGTH, t, q))
                    self._reset(in_run=True)
                else:
                    self.in_run = False
                    self.payload = bytearray()
                    self.state = "PAYLOAD" if self.length else "CRC"
                    self.crc = b""
        elif s == "PAYLOAD":
            self.payload.append(b)
            if len(self.payload) == self.length:
                self.state = "CRC"
        elif s == "CRC":
            self.crc += bytes([b])
            if len(self.crc) == 2:
                t, q = self.head[0], self.head[1]
                if crc16(bytes(self.head) + bytes(self.payload) + self.crc) != 0:
                    out.append(LinkError(Error.BAD_CRC, t, q))
                else:
                    out.append(Packet(t, q, bytes(self.payload)))
                self._reset(in_run=False)

    def idle(self) -> list:
        out: list = []
        if self.state == "MAGIC1":
            self._skip(MAGIC[0], out)
        elif self.state != "HUNT":
            t = self.head[0] if len(self.head) >= 5 else 0
            q = self.head[1] if len(self.head) >= 5 else 0
            out.append(LinkError(Error.TIMEOUT, t, q))
        self._reset(in_run=False)
        return out

    @property
    def in_frame(self) -> bool:
        """True between a complete magic and the end of its frame."""
        return self.state not in ("HUNT", "MAGIC1")
