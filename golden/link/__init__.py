"""The host link protocol: frames, CRCs, reply codecs and a reference model of the board's link.

This package is the specification of the link the board tops implement (docs/link.md is its
prose), one job per module:

- :mod:`.crc`: the header and frame checks (CRC-8, CRC-16/CCITT-FALSE);
- :mod:`.frames`: the frame format, frame types, error codes, :func:`encode_frame`;
- :mod:`.deframer`: the byte-by-byte receiver (:class:`Deframer`), reference of
  ``hw/deframer.py``;
- :mod:`.replies`: the INFO, STATUS and ERROR payloads;
- :mod:`.model`: :class:`LinkModel`, the board's link as a whole.

The detector's DET_* payloads and records use the layouts of
:mod:`vitgates.golden.detector_formats` (:class:`DetectorShape`). The host client builds its
frames with :func:`encode_frame` and parses the board's replies with :class:`Deframer`; it
imports them from here. numpy and the standard library only (amaranth's ``lib.data`` for the
detector's layouts).
"""

from ..detector_formats import DetectorShape, detector_config_id
from .crc import crc8, crc16
from .deframer import Deframer
from .frames import (
    ERROR_BYTES,
    MAGIC,
    MAX_PAYLOAD,
    OVERHEAD,
    VERSION,
    Error,
    LinkError,
    Packet,
    Type,
    encode_frame,
    frame_bytes,
    link_images_per_second,
)
from .model import LinkModel
from .replies import (
    COUNTERS,
    FORMS,
    INFO_BYTES,
    STATUS_BYTES,
    LinkInfo,
    error_packet,
    error_payload,
    info_payload,
    parse_info,
    parse_status,
    person_config_id,
    status_payload,
)

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
