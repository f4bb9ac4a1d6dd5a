"""A reference model of the board's link: bytes from the host in, reply packets out.

One job: what the board tops do with every byte (docs/link.md). The gateware
(``hw/deframer.py``, ``hw/framer.py``, ``hw/link_controller.py``, ``hw/link_status.py``,
``hw/board_core.py``) equals :class:`LinkModel` byte for byte. It composes the frame
receiver (:mod:`.deframer`), the reply codecs (:mod:`.replies`), the detector's wire formats
(:mod:`vitgates.golden.detector_formats`) and the golden models behind them.
"""

from __future__ import annotations

import struct

import numpy as np

from ..cofiber import from_stream
from ..detector import hw_row_order, ref_detect
from ..detector_formats import DetectorShape
from ..person import ref_popcount, ref_sumdiff, select
from .deframer import Deframer
from .frames import Error, LinkError, Packet, Type
from .replies import COUNTERS, LinkInfo, error_packet, info_payload, status_payload

__all__ = ["LinkModel"]


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
            w = sh.parse_write(kind, payload[k:k + sh.stride])
            if kind == 0:
                if w.addr >= sh.depth:
                    continue  # dropped (ByteDetector)
                raw = w.data.as_value().value
                self.words[w.addr] = np.frombuffer(
                    raw.to_bytes(sh.rows * sh.lanes, "little"), np.int8)
            else:
                if w.band > 2 or w.cls >= sh.n_classes:
                    continue
                self.thresholds[w.band, w.cls] = w.data

    @property
    def loaded(self) -> bool:
        return (self.w_count, self.t_count) == self.shape.writes

    def head(self) -> _LoadedHead:
        sh = self.shape
        n_pass = -(-sh.n_rows // sh.rows)
        wpp = sh.channels // sh.lanes
        w = (self.words.reshape(n_pass, wpp, sh.rows, sh.lanes).transpose(0, 2, 1, 3)
             .reshape(n_pass * sh.rows, sh.channels))
        weight = np.zeros((sh.n_rows, sh.channels), np.int8)
        weight[hw_row_order(sh.n_classes, sh.box_rows)] = w[:sh.n_rows]
        return _LoadedHead(weight, self.thresholds.copy())

    def detect(self) -> list[bytes]:
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
