"""Payload codecs of the link's housekeeping replies: INFO, STATUS and ERROR.

One job: the bytes of these payloads (docs/link.md), both ways, and the config id INFO
reports. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field

from .frames import MAX_PAYLOAD, VERSION, Error, LinkError, Packet, Type

__all__ = [
    "FORMS",
    "COUNTERS",
    "STATUS_BYTES",
    "INFO_BYTES",
    "LinkInfo",
    "person_config_id",
    "info_payload",
    "parse_info",
    "parse_status",
    "status_payload",
    "error_payload",
    "error_packet",
]

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
