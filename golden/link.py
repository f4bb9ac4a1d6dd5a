"""The host link protocol: frames, CRCs, commands and a reference model of the board's link.

This module is the specification of the link the board tops implement (docs/link.md is
its prose). The gateware (``hw/deframer.py``, ``hw/framer.py``, ``hw/link_controller.py``,
``hw/link_status.py``) equals :class:`LinkModel` byte for byte; the host client
(``host/client.py``) builds its frames with :func:`encode_frame` and parses the board's
replies with :class:`Deframer`. numpy and the standard library only.

A frame, in both directions::

    magic  A5 C3      2 bytes
    type              1 byte   (host -> board: 0x01..0x3F; replies: request | 0x80)
    seq               1 byte   (chosen by the host, echoed in the reply)
    length            2 bytes  little-endian, payload bytes (0..max_payload)
    hcrc              1 byte   CRC-8 (poly 0x07, init 0) of type, seq, length
    payload           length bytes
    crc               2 bytes  big-endian CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of
                               every byte after the magic (type .. payload, hcrc included)

Both CRCs are sent most significant byte first, so that the CRC of the checked bytes followed
by their CRC is zero: receivers check a residue of zero.

The detector's commands (DET_WEIGHTS, DET_THRESHOLDS, DET_GRID) and its packets
(DETECTIONS, FRAME_DONE) use the wire formats of :class:`DetectorShape`.
"""

from __future__ import annotations

import binascii
import enum
import hashlib
import json
import struct
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "MAGIC",
    "VERSION",
    "OVERHEAD",
    "MAX_PAYLOAD",
    "INFO_BYTES",
    "ERROR_BYTES",
    "Type",
    "Error",
    "FORMS",
    "COUNTERS",
    "STATUS_BYTES",
    "Packet",
    "LinkError",
    "LinkInfo",
    "crc8",
    "crc16",
    "encode_frame",
    "Deframer",
    "person_config_id",
    "info_payload",
    "parse_info",
    "parse_status",
    "status_payload",
    "error_payload",
    "error_packet",
    "LinkModel",
    "DetectorShape",
    "detector_config_id",
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


#: person-classifier forms as INFO reports them
FORMS = {"popcount": 0, "sumdiff": 1}
_NO_FORM = 0xFF

#: The counters of a STATUS reply, in order: (name, width in the gateware). Each is sent as a
#: u32 (little-endian); a counter wraps at 2**width.
COUNTERS = (
    ("rx_bytes", 32),  # bytes received
    ("frames_ok", 32),  # frames that passed magic, header, length, CRC and found a slot
    ("images", 32),  # CLASSIFY frames answered with a decision
    ("skipped_bytes", 16),  # bytes outside any frame
    *((f"err_{e.name.lower()}", 16) for e in Error),  # one per error code
    ("uart_framing", 16),  # UART frames without a stop bit
    ("uart_overrun", 16),  # bytes lost because the link could not take them (never expected)
    ("unreported", 16),  # errors counted but not reported by a packet (reply queue full)
)
STATUS_BYTES = 4 * len(COUNTERS)
INFO_BYTES = 40
ERROR_BYTES = 4


# -- CRCs ------------------------------------------------------------------------------------


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


# -- INFO, STATUS, ERROR payloads ------------------------------------------------------------


def person_config_id(cfg) -> bytes:
    """Eight bytes identifying a person-classifier config: the first 8 bytes of the SHA-256
    of its integer content (dims, T, thresholds, K) and scale, as canonical JSON. The board
    reports the id of the config baked into its bitstream (INFO)."""
    d = cfg.to_dict()
    keys = ("feature_dim", "scale", "pos_dims", "neg_dims", "T", "dim_thresholds", "K")
    text = json.dumps({k: d[k] for k in keys}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).digest()[:8]


@dataclass(frozen=True)
class LinkInfo:
    """What INFO reports: the bitstream's designs, sizes, clock, and the baked config's id."""

    version: int = VERSION
    person: bool = True
    detector: bool = False
    form: str | None = "popcount"
    slots: int = 2
    max_payload: int = MAX_PAYLOAD
    feature_dim: int = 768
    clock_hz: int = 48_000_000
    baud: int = 3_000_000
    timeout_us: int = 20_000
    config_id: bytes = bytes(8)
    #: detector grid height, width, channels, weight rows, classes (0 when absent)
    det_shape: tuple = (0, 0, 0, 0, 0)
    #: the detector's weight-word folding: rows, lanes (0 when absent)
    det_fold: tuple = (0, 0)
    extra: dict = field(default_factory=dict, compare=False)


def info_payload(info: LinkInfo) -> bytes:
    """The INFO reply payload (``INFO_BYTES`` bytes, little-endian; docs/link.md)."""
    designs = (1 if info.person else 0) | (2 if info.detector else 0)
    form = FORMS[info.form] if info.person and info.form else _NO_FORM
    if len(info.config_id) != 8:
        raise ValueError("config_id is 8 bytes")
    p = struct.pack("<BBBBHHIII", info.version, designs, form, info.slots, info.max_payload,
                    info.feature_dim, info.clock_hz, info.baud, info.timeout_us)
    p += bytes(info.config_id)
    p += struct.pack("<HHHHH", *info.det_shape)
    p += struct.pack("<BB", *info.det_fold)
    p += bytes(INFO_BYTES - len(p))
    assert len(p) == INFO_BYTES
    return p


def parse_info(payload: bytes) -> LinkInfo:
    if len(payload) != INFO_BYTES:
        raise ValueError(f"INFO payload of {len(payload)} bytes, expected {INFO_BYTES}")
    v, designs, form, slots, maxp, fdim, clk, baud, tmo = struct.unpack_from("<BBBBHHIII",
                                                                              payload)
    cid = bytes(payload[20:28])
    det = struct.unpack_from("<HHHHH", payload, 28)
    fold = struct.unpack_from("<BB", payload, 38)
    forms = {n: k for k, n in FORMS.items()}
    return LinkInfo(version=v, person=bool(designs & 1), detector=bool(designs & 2),
                    form=forms.get(form), slots=slots, max_payload=maxp, feature_dim=fdim,
                    clock_hz=clk, baud=baud, timeout_us=tmo, config_id=cid, det_shape=det,
                    det_fold=fold)


def parse_status(payload: bytes) -> dict:
    """Counters of a STATUS reply: name -> value."""
    if len(payload) != STATUS_BYTES:
        raise ValueError(f"STATUS payload of {len(payload)} bytes, expected {STATUS_BYTES}")
    vals = struct.unpack(f"<{len(COUNTERS)}I", payload)
    return {name: v for (name, _), v in zip(COUNTERS, vals, strict=True)}


def status_payload(counters: dict) -> bytes:
    vals = [counters.get(name, 0) & ((1 << w) - 1) for name, w in COUNTERS]
    return struct.pack(f"<{len(COUNTERS)}I", *vals)


def error_payload(e: LinkError) -> bytes:
    return bytes([int(e.code), e.type & 0xFF, e.seq & 0xFF, e.info & 0xFF])


def error_packet(e: LinkError) -> Packet:
    return Packet(Type.ERROR, e.seq & 0xFF, error_payload(e))


# -- the detector's wire formats ----------------------------------------------------------


def _range_bits(n: int) -> int:
    """Bits of an unsigned field holding 0 .. n − 1 (amaranth's ``range(n)`` shape)."""
    return max(n - 1, 0).bit_length()


@dataclass(frozen=True)
class DetectorShape:
    """The cofiber detector a bitstream holds, as far as the link needs it: the grid
    ``H × W × C``, K classes, B box rows, and the folding's ``rows`` and ``lanes`` (the
    shape of a weight word). It fixes every wire format of the DET_* commands
    (docs/link.md): the ``stride`` bytes of a weight or threshold write, the
    ``record_bytes`` of a detection record, the ``grid_bytes`` of a grid."""

    grid: tuple = (40, 40)
    channels: int = 768
    n_classes: int = 80
    box_rows: int = 4
    rows: int = 4
    lanes: int = 2

    @classmethod
    def of(cls, det) -> DetectorShape:
        """The shape of a :class:`~vitgates.hw.cofiber_detector.CofiberDetector`."""
        return cls(tuple(det.grid), det.channels, det.n_classes, det.box_rows,
                   det.folding.rows, det.folding.lanes)

    @property
    def n_rows(self) -> int:
        return self.n_classes + self.box_rows

    @property
    def value_width(self) -> int:
        from .detector_head import acc_bits

        return acc_bits(self.channels) + 5

    @property
    def depth(self) -> int:
        """Words of the weight memory."""
        return -(-self.n_rows // self.rows) * (self.channels // self.lanes)

    @property
    def grid_bytes(self) -> int:
        H, W = self.grid
        return H * W * self.channels

    @property
    def writes(self) -> tuple[int, int]:
        """Writes that load the weights and the thresholds (``depth``, ``3·K``)."""
        return self.depth, 3 * self.n_classes

    @property
    def _addr_bits(self) -> int:
        return _range_bits(self.depth)

    @property
    def _cls_bits(self) -> int:
        return _range_bits(self.n_classes)

    @property
    def weight_bytes(self) -> int:
        return -(-(self._addr_bits + 8 * self.rows * self.lanes) // 8)

    @property
    def threshold_bytes(self) -> int:
        return -(-(2 + self._cls_bits + self.value_width) // 8)

    @property
    def stride(self) -> int:
        """Bytes of every weight or threshold write on the link (a power of two)."""
        n = max(self.weight_bytes, self.threshold_bytes)
        return 1 << (n - 1).bit_length()

    @property
    def record_fields(self) -> list[tuple[str, int, bool]]:
        """``(name, bits, signed)`` of a record, least significant first (``box``: B
        fields ``box0`` ..)."""
        H, W = self.grid
        v = self.value_width
        f = [("end", 1, False), ("band", 2, False), ("y", _range_bits(H), False),
             ("x", _range_bits(W), False), ("cls", self._cls_bits, False), ("acc", v, True)]
        return f + [(f"box{j}", v, True) for j in range(self.box_rows)]

    @property
    def record_bytes(self) -> int:
        return -(-sum(b for _, b, _ in self.record_fields) // 8)

    def info(self) -> dict:
        """``det_shape`` and ``det_fold`` of INFO."""
        H, W = self.grid
        return {"det_shape": (H, W, self.channels, self.n_rows, self.n_classes),
                "det_fold": (self.rows, self.lanes)}

    @classmethod
    def from_info(cls, info: LinkInfo) -> DetectorShape | None:
        if not info.detector:
            return None
        H, W, C, R, K = info.det_shape
        return cls((H, W), C, K, R - K, *info.det_fold)

    # -- encoders ------------------------------------------------------------------------

    def _pad(self, value: int) -> bytes:
        return int(value).to_bytes(self.stride, "little")

    def weight_writes(self, head, *, pixels: int = 1) -> bytes:
        """The DET_WEIGHTS payload bytes that load ``head``'s weights (all ``depth`` words,
        :func:`~vitgates.golden.detector.pack_weights`), ``stride`` bytes a word."""
        from .detector import Folding, pack_weights

        addr, words = pack_weights(head, Folding(pixels=pixels, rows=self.rows,
                                                 lanes=self.lanes))
        out = bytearray()
        for a, w in zip(addr.tolist(), words, strict=True):
            out += self._pad(a | int.from_bytes(w.astype(np.int8).tobytes(), "little")
                             << self._addr_bits)
        return bytes(out)

    def threshold_writes(self, head) -> bytes:
        """The DET_THRESHOLDS payload bytes of ``head``'s ``3·K`` thresholds."""
        from .detector import pack_thresholds

        out = bytearray()
        v = self.value_width
        for b, k, t in zip(*(x.tolist() for x in pack_thresholds(head)), strict=True):
            out += self._pad(b | k << 2 | (t & ((1 << v) - 1)) << (2 + self._cls_bits))
        return bytes(out)

    def grid_stream(self, q) -> bytes:
        """The bytes of a grid (INT8 [H, W, C]) in the detector's input order."""
        from .cofiber import to_stream

        q = np.asarray(q)
        if q.shape != (*self.grid, self.channels):
            raise ValueError(f"grid of shape {list(q.shape)}, the detector takes "
                             f"{[*self.grid, self.channels]}")
        return np.ascontiguousarray(to_stream(q.astype(np.int8))).tobytes()

    def record(self, values: dict) -> bytes:
        """A record's bytes from its field values (missing fields: 0)."""
        word, off = 0, 0
        for name, bits, _ in self.record_fields:
            word |= (int(values.get(name, 0)) & ((1 << bits) - 1)) << off
            off += bits
        return word.to_bytes(self.record_bytes, "little")

    def parse_record(self, payload: bytes) -> dict:
        """A record's field values (``box`` as a tuple) from its bytes."""
        word = int.from_bytes(payload, "little")
        out: dict = {}
        for name, bits, signed in self.record_fields:
            v = word & ((1 << bits) - 1)
            word >>= bits
            if signed and bits and v >> (bits - 1):
                v -= 1 << bits
            out[name] = v
        out["box"] = tuple(out.pop(f"box{j}") for j in range(self.box_rows))
        return out

    def records(self, dets) -> list[bytes]:
        """The records of :func:`~vitgates.golden.detector.ref_detect`'s output, then the
        end record: what the detector sends for one grid."""
        out = []
        for d in dets:
            v = {k: int(d[k]) for k in ("band", "y", "x", "cls", "acc")}
            if self.box_rows:
                v.update({f"box{j}": int(b) for j, b in enumerate(d["box"])})
            out.append(self.record(v))
        return out + [self.record({"end": 1})]


def detector_config_id(weights: bytes, thresholds: bytes) -> bytes:
    """Eight bytes identifying a loaded detector: the SHA-256 of its DET_WEIGHTS and
    DET_THRESHOLDS payload bytes (for reports; the board does not compute it)."""
    return hashlib.sha256(bytes(weights) + bytes(thresholds)).digest()[:8]


class _LoadedHead:
    """What the detector's memories hold, in the form :func:`ref_detect` reads."""

    def __init__(self, weight, thresholds):
        self.weight, self.thresholds = weight, thresholds
        self.n_classes = thresholds.shape[1]
        self.box_rows = weight.shape[0] - self.n_classes
        self.channels = weight.shape[1]


class _DetectorModel:
    """The detector behind the link: its memories, the counts of writes, the grid."""

    def __init__(self, shape: DetectorShape):
        self.shape = shape
        self.words = np.zeros((shape.depth, shape.rows * shape.lanes), np.int8)
        self.thresholds = np.zeros((3, shape.n_classes), np.int64)
        self.w_count = 0
        self.t_count = 0
        self.grid = bytearray()

    def write(self, kind: int, payload: bytes):
        """Apply the writes of a DET_WEIGHTS (``kind`` 0) or DET_THRESHOLDS (1) payload.
        Every write counts towards ``loaded`` (the counts saturate), but one outside the
        memories is not carried out."""
        sh = self.shape
        n = len(payload) // sh.stride
        if kind == 0:
            self.w_count = min(self.w_count + n, sh.depth)
        else:
            self.t_count = min(self.t_count + n, 3 * sh.n_classes)
        for k in range(0, len(payload), sh.stride):
            v = int.from_bytes(payload[k:k + sh.stride], "little")
            if kind == 0:
                addr = v & ((1 << sh._addr_bits) - 1)
                if addr >= sh.depth:
                    continue  # dropped (ByteDetector)
                raw = (v >> sh._addr_bits) & ((1 << (8 * sh.rows * sh.lanes)) - 1)
                self.words[addr] = np.frombuffer(
                    raw.to_bytes(sh.rows * sh.lanes, "little"), np.int8)
            else:
                band, cls = v & 3, (v >> 2) & ((1 << sh._cls_bits) - 1)
                if band > 2 or cls >= sh.n_classes:
                    continue
                t = (v >> (2 + sh._cls_bits)) & ((1 << sh.value_width) - 1)
                if t >> (sh.value_width - 1):
                    t -= 1 << sh.value_width
                self.thresholds[band, cls] = t

    @property
    def loaded(self) -> bool:
        return (self.w_count, self.t_count) == self.shape.writes

    def head(self) -> _LoadedHead:
        from .detector import hw_row_order

        sh = self.shape
        n_pass = -(-sh.n_rows // sh.rows)
        wpp = sh.channels // sh.lanes
        w = (self.words.reshape(n_pass, wpp, sh.rows, sh.lanes).transpose(0, 2, 1, 3)
             .reshape(n_pass * sh.rows, sh.channels))
        weight = np.zeros((sh.n_rows, sh.channels), np.int8)
        weight[hw_row_order(sh.n_classes, sh.box_rows)] = w[:sh.n_rows]
        return _LoadedHead(weight, self.thresholds.copy())

    def detect(self) -> list[bytes]:
        from .cofiber import from_stream
        from .detector import ref_detect

        sh = self.shape
        q = from_stream(np.frombuffer(bytes(self.grid), np.int8).reshape(-1, sh.channels), *sh.grid)
        self.grid = bytearray()
        return sh.records(ref_detect(q, self.head()))


# -- the board's link, as a model ------------------------------------------------------------


class LinkModel:
    """The reference of the board's link: bytes from the host in, reply packets out.

    ``person``: ``(PersonConfig, form)`` of the classifier baked into the bitstream, or None.
    Frames are answered in order (ERROR packets in the place of the frame that caused them);
    :attr:`counters` follows the STATUS counters. The model assumes that the host keeps
    within the window (no BUSY) and that replies are read as fast as errors arise (the
    gateware drops the packet, never the count, of an error it cannot queue: ``unreported``).

    ``detector``: the :class:`DetectorShape` of the bitstream's detector (default: the one
    ``info`` reports, or None). The model keeps what the detector's memories hold and the
    grid being received; when a DET_GRID frame completes a grid it runs
    :func:`~vitgates.golden.detector.ref_detect` on it and appends the DETECTIONS and
    FRAME_DONE packets to :attr:`detections` (not to the replies: the board merges them
    with the replies at times that depend on the detector's timing).
    """

    def __init__(self, person=None, *, info: LinkInfo | None = None, detector=None):
        self.person = person
        self.info = info or LinkInfo()
        if detector is None:
            detector = DetectorShape.from_info(self.info)
        self.detector = detector
        self._det = _DetectorModel(detector) if detector is not None else None
        #: DETECTIONS and FRAME_DONE packets, in the order the board sends them (their
        #: place among the replies depends on the detector's timing: see docs/link.md)
        self.detections: list[Packet] = []
        self._det_seq = 0
        self.deframer = Deframer(self.info.max_payload)
        self.counters = {name: 0 for name, _ in COUNTERS}

    def take_detections(self) -> list[Packet]:
        """The detection packets produced so far (and forget them)."""
        out, self.detections = self.detections, []
        return out

    def _count(self, name, n=1):
        self.counters[name] += n

    def _error(self, e: LinkError, out: list):
        self._count(f"err_{Error(e.code).name.lower()}")
        out.append(error_packet(e))

    def feed(self, data) -> list[Packet]:
        out: list[Packet] = []
        for b in bytes(data):
            self._count("rx_bytes")
            before = self.deframer.skipped
            for ev in self.deframer.feed(bytes([b])):
                self._event(ev, out)
            self._count("skipped_bytes", self.deframer.skipped - before)
        return out

    def idle(self) -> list[Packet]:
        out: list[Packet] = []
        before = self.deframer.skipped
        for ev in self.deframer.idle():
            self._event(ev, out)
        self._count("skipped_bytes", self.deframer.skipped - before)
        return out

    def _event(self, ev, out):
        if isinstance(ev, LinkError):
            self._error(ev, out)
            return
        self._count("frames_ok")
        self._command(ev, out)

    def status(self) -> dict:
        """The counters as STATUS reports them (wrapped at their widths)."""
        return {name: self.counters[name] & ((1 << w) - 1) for name, w in COUNTERS}

    def _command(self, p: Packet, out):
        t, q, n = p.type, p.seq, len(p.payload)

        def bad(code):
            self._error(LinkError(code, t, q), out)

        if t == Type.PING:
            out.append(Packet(Type.PONG, q, p.payload))
        elif t in (Type.INFO, Type.STATUS):
            if n:
                return bad(Error.BAD_LENGTH)
            if t == Type.INFO:
                out.append(Packet(Type.INFO_REPLY, q, info_payload(self.info)))
            else:
                # STATUS reports the counters as they stand when its reply starts: this
                # frame's own bytes and its frames_ok are counted.
                out.append(Packet(Type.STATUS_REPLY, q, status_payload(self.status())))
        elif t == Type.CLASSIFY:
            if self.person is None:
                return bad(Error.UNSUPPORTED)
            cfg, form = self.person
            if n != cfg.feature_dim:
                return bad(Error.BAD_LENGTH)
            from .person import ref_popcount, ref_sumdiff, select

            q8 = np.frombuffer(p.payload, dtype=np.int8)[None, :]
            ref = {"popcount": ref_popcount, "sumdiff": ref_sumdiff}[form]
            dec = bool(ref(select(q8, cfg), cfg)[0])
            self._count("images")
            out.append(Packet(Type.DECISION, q, bytes([int(dec)])))
        elif t in (Type.DET_WEIGHTS, Type.DET_THRESHOLDS, Type.DET_GRID):
            det = self._det
            if det is None:
                return bad(Error.UNSUPPORTED)
            sh = det.shape
            if t == Type.DET_GRID:
                left = sh.grid_bytes - len(det.grid)
                if n == 0 or n > left:
                    return bad(Error.BAD_LENGTH)
                if not det.loaded:
                    return bad(Error.BAD_ORDER)
                det.grid += p.payload
                left -= n
                out.append(Packet(Type.DET_GRID_ACK, q, struct.pack("<I", left)))
                if not left:
                    for rec in det.detect():
                        kind = Type.FRAME_DONE if rec[0] & 1 else Type.DETECTIONS
                        self.detections.append(Packet(kind, self._det_seq, rec))
                        self._det_seq = (self._det_seq + 1) & 0xFF
            else:
                if n == 0 or n % sh.stride:
                    return bad(Error.BAD_LENGTH)
                if det.grid:
                    return bad(Error.BAD_ORDER)
                det.write(0 if t == Type.DET_WEIGHTS else 1, p.payload)
                out.append(Packet(t | 0x80, q))
        else:
            bad(Error.BAD_TYPE)
