"""The detector's wire formats: one definition of the record, weight-write and
threshold-write layouts, and of every byte count the link derives from them.

One job: the bits of the detector's data. The layouts are Amaranth ``data.StructLayout``s
(plain Python, no gateware): the circuits (``hw/int8_classifier.py``,
``hw/band_threshold.py``, ``hw/byte_detector.py``) take their ports' payloads from here, and
:class:`DetectorShape` packs and unpacks the DET_* payloads and the records of the
DETECTIONS / FRAME_DONE packets with the same layouts (``layout.const`` / ``from_bits``, or
the column packer :mod:`vitgates.golden.payload`), so an offset is never derived twice.
On the link every write and every record travels as its layout's bits, little-endian, the
writes zero-padded to ``stride`` bytes (docs/link.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from amaranth.hdl import signed
from amaranth.lib import data

from .cofiber import to_stream
from .detector import Folding, pack_thresholds, pack_weights
from .detector_head import acc_bits
from .payload import pack, pack_payloads, unpack

__all__ = [
    "detection_layout",
    "weight_write_layout",
    "threshold_write_layout",
    "DetectorShape",
    "detector_config_id",
]


def detection_layout(n_classes: int, box_rows: int, width: int, grid) -> data.StructLayout:
    """A detection record: ``end`` (1: frame-end marker), ``band``, ``y``, ``x`` (in the
    band's grid), ``cls``, ``acc`` (signed ``width``) and, with box rows, ``box``
    (``box_rows`` signed ``width``-bit accumulators); least significant field first."""
    H, W = grid
    fields = {
        "end": 1,
        "band": 2,
        "y": range(H),
        "x": range(W),
        "cls": range(n_classes),
        "acc": signed(width),
    }
    if box_rows:
        fields["box"] = data.ArrayLayout(signed(width), box_rows)
    return data.StructLayout(fields)


def weight_write_layout(depth: int, weights_per_word: int) -> data.StructLayout:
    """A weight write: the word address and the word's INT8 weights (element ``e`` in bits
    ``8e .. 8e+7`` of ``data``; :func:`~vitgates.golden.detector.pack_weights`)."""
    return data.StructLayout({
        "addr": range(depth),
        "data": data.ArrayLayout(signed(8), weights_per_word),
    })


def threshold_write_layout(n_classes: int, width: int) -> data.StructLayout:
    """A threshold write: the band, the class and the signed threshold
    (:func:`~vitgates.golden.detector.pack_thresholds`)."""
    return data.StructLayout({"band": 2, "cls": range(n_classes), "data": signed(width)})


def _nbytes(layout) -> int:
    return -(-data.Layout.cast(layout).size // 8)


@dataclass(frozen=True)
class DetectorShape:
    """The cofiber detector a bitstream holds, as far as the link needs it: the grid
    ``H × W × C``, K classes, B box rows, and the folding's ``rows`` and ``lanes`` (the
    shape of a weight word). It fixes every wire format of the DET_* commands
    (docs/link.md): the layouts of a weight write, a threshold write and a record, the
    ``stride`` bytes of a write on the link, the ``record_bytes`` of a record, the
    ``grid_bytes`` of a grid."""

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
        """Bits of a threshold and of a record's accumulators (``acc_bits(C) + 5``)."""
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

    # -- layouts ---------------------------------------------------------------------------

    @cached_property
    def weight_layout(self) -> data.StructLayout:
        return weight_write_layout(self.depth, self.rows * self.lanes)

    @cached_property
    def threshold_layout(self) -> data.StructLayout:
        return threshold_write_layout(self.n_classes, self.value_width)

    @cached_property
    def record_layout(self) -> data.StructLayout:
        return detection_layout(self.n_classes, self.box_rows, self.value_width, self.grid)

    @property
    def weight_bytes(self) -> int:
        return _nbytes(self.weight_layout)

    @property
    def threshold_bytes(self) -> int:
        return _nbytes(self.threshold_layout)

    @property
    def stride(self) -> int:
        """Bytes of every weight or threshold write on the link (a power of two)."""
        n = max(self.weight_bytes, self.threshold_bytes)
        return 1 << (n - 1).bit_length()

    @property
    def record_bytes(self) -> int:
        return _nbytes(self.record_layout)

    def info(self) -> dict:
        """``det_shape`` and ``det_fold`` of INFO."""
        H, W = self.grid
        return {"det_shape": (H, W, self.channels, self.n_rows, self.n_classes),
                "det_fold": (self.rows, self.lanes)}

    @classmethod
    def from_info(cls, info) -> DetectorShape | None:
        """The shape an INFO reply (:class:`~vitgates.golden.link.replies.LinkInfo`)
        reports, or None without a detector."""
        if not info.detector:
            return None
        H, W, C, R, K = info.det_shape
        return cls((H, W), C, K, R - K, *info.det_fold)

    # -- writes ------------------------------------------------------------------------

    def pad(self, value: int) -> bytes:
        """The ``stride`` bytes of a write whose layout bits are ``value``."""
        return int(value).to_bytes(self.stride, "little")

    def weight_write(self, values: dict) -> bytes:
        """One weight write's bytes from its field values (``addr``, ``data``: the word's
        weights; missing fields 0, values truncated to their fields)."""
        return self.pad(pack(self.weight_layout, values))

    def threshold_write(self, values: dict) -> bytes:
        """One threshold write's bytes from its field values (``band``, ``cls``, ``data``)."""
        return self.pad(pack(self.threshold_layout, values))

    def weight_writes(self, head, *, pixels: int = 1) -> bytes:
        """The DET_WEIGHTS payload bytes that load ``head``'s weights (all ``depth`` words,
        :func:`~vitgates.golden.detector.pack_weights`), ``stride`` bytes a word."""
        cols = pack_weights(head, Folding(pixels=pixels, rows=self.rows, lanes=self.lanes))
        return b"".join(self.pad(v) for v in pack_payloads(self.weight_layout, cols))

    def threshold_writes(self, head) -> bytes:
        """The DET_THRESHOLDS payload bytes of ``head``'s ``3·K`` thresholds."""
        cols = pack_thresholds(head)
        return b"".join(self.pad(v) for v in pack_payloads(self.threshold_layout, cols))

    def parse_write(self, kind: int, payload: bytes) -> data.Const:
        """A weight (``kind`` 0) or threshold (1) write of ``stride`` bytes, as a constant
        of its layout (padding ignored)."""
        layout = self.weight_layout if kind == 0 else self.threshold_layout
        v = int.from_bytes(payload, "little") & ((1 << layout.size) - 1)
        return layout.from_bits(v)

    # -- grids and records -------------------------------------------------------------

    def grid_stream(self, q) -> bytes:
        """The bytes of a grid (INT8 [H, W, C]) in the detector's input order."""
        q = np.asarray(q)
        if q.shape != (*self.grid, self.channels):
            raise ValueError(f"grid of shape {list(q.shape)}, the detector takes "
                             f"{[*self.grid, self.channels]}")
        return np.ascontiguousarray(to_stream(q.astype(np.int8))).tobytes()

    def record(self, values: dict) -> bytes:
        """A record's bytes from its field values (missing fields: 0; ``box`` a sequence of
        ``box_rows`` values)."""
        return pack(self.record_layout, values).to_bytes(self.record_bytes, "little")

    def parse_record(self, payload: bytes) -> dict:
        """A record's field values (``box`` as a tuple) from its bytes."""
        out = unpack(self.record_layout, int.from_bytes(payload, "little"))
        out.setdefault("box", ())
        return out

    def records(self, dets) -> list[bytes]:
        """The records of :func:`~vitgates.golden.detector.ref_detect`'s output, then the
        end record: what the detector sends for one grid."""
        out = []
        for d in dets:
            v = {k: int(d[k]) for k in ("band", "y", "x", "cls", "acc")}
            if self.box_rows:
                v["box"] = [int(b) for b in d["box"]]
            out.append(self.record(v))
        return out + [self.record({"end": 1})]


def detector_config_id(weights: bytes, thresholds: bytes) -> bytes:
    """Eight bytes identifying a loaded detector: the SHA-256 of its DET_WEIGHTS and
    DET_THRESHOLDS payload bytes (for reports; the board does not compute it)."""
    return hashlib.sha256(bytes(weights) + bytes(thresholds)).digest()[:8]
