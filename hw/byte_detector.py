"""``ByteDetector``: :class:`~vitgates.hw.cofiber_detector.CofiberDetector` behind byte streams.

Golden twin: the detector's wire formats in :mod:`vitgates.golden.detector_formats`
(:class:`~vitgates.golden.detector_formats.DetectorShape`: ``weight_bytes``,
``threshold_bytes``, ``record_bytes``) around :func:`~vitgates.golden.detector.ref_detect`;
the link model (:class:`~vitgates.golden.link.model.LinkModel`) is the reference of the
whole path. The bytes pass through the gearbox of :mod:`vitgates.hw.byte_gearbox`.

The detector's own ports are wide (a record is 172 bits on the full-size detector), more
than a byte link carries in one piece. This wrapper gives it three byte streams:

- ``i``: features, one INT8 per transfer, in the detector's order (4×4-block-major,
  :func:`~vitgates.golden.cofiber.to_stream`); ``lanes`` bytes are gathered into one
  detector transfer.
- ``load``: writes, ``stride`` bytes each (``data``), all bytes of one write with the same
  ``kind`` (0 weight word, 1 threshold): the little-endian bytes of the write's payload
  (:func:`~vitgates.golden.detector_formats.weight_write_layout` /
  :func:`~vitgates.golden.detector_formats.threshold_write_layout`), zero-padded to
  ``stride``, the smallest power of two that holds either. A write whose address is
  outside the weight memory, or whose band is above 2 or class above K − 1, is dropped
  (not written), so no byte sequence can write outside the memories.
- ``o``: each detection record as ``record_bytes`` little-endian bytes, the end-of-frame
  record (``end`` = 1, every other field 0) included.

Throughput: ``i`` takes ``lanes`` bytes in ``lanes + 1`` cycles at best (its ``ready``
comes from a flip-flop: the gather register hands a full word on before it takes the next
byte); ``load`` a byte a cycle, then one cycle (or more, while the detector's write port is
not ready: weights only while the classifier is idle) per write;
``o`` sends ``record_bytes`` bytes a record, a byte a cycle, straight from the detector's
output register (``o.valid`` is the detector's; the record is taken with its last byte).
Latency: that of the detector, plus one cycle on ``i``.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .byte_gearbox import ByteGather, ByteScatter, payload_bytes
from .cofiber_detector import CofiberDetector

__all__ = ["ByteDetector", "LOAD_BYTE", "LOAD_WEIGHT", "LOAD_THRESHOLD"]

LOAD_WEIGHT = 0
LOAD_THRESHOLD = 1

#: A byte of the ``load`` stream: the byte and which memory its write is for.
LOAD_BYTE = data.StructLayout({"data": 8, "kind": 1})


class ByteDetector(wiring.Component):
    """A :class:`CofiberDetector` with byte-wide ``i``, ``load`` and ``o`` streams.

    Parameters: those of :class:`CofiberDetector` (keywords).

    Attributes
    ----------
    i : In(stream.Signature(8))
    load : In(stream.Signature(LOAD_BYTE))
    o : Out(stream.Signature(8))
    detector : CofiberDetector
    record_bytes, weight_bytes, threshold_bytes, stride : int
        Bytes of a record on ``o``, of a weight write and of a threshold write (before
        padding), and of every write on ``load`` (after padding).
    """

    i: In(stream.Signature(8))
    load: In(stream.Signature(LOAD_BYTE))
    o: Out(stream.Signature(8))

    def __init__(self, **detector_args):
        self.detector = det = CofiberDetector(**detector_args)
        self.record_bytes = payload_bytes(det.o.payload.shape())
        self.weight_bytes = payload_bytes(det.w_write.payload.shape())
        self.threshold_bytes = payload_bytes(det.t_write.payload.shape())
        n = max(self.weight_bytes, self.threshold_bytes)
        self.stride = 1 << (n - 1).bit_length()
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.detector = det = self.detector

        # -- features: `lanes` bytes gathered into one transfer. The gearbox's `i.ready` is a
        # flip-flop (not the detector's ready, a long path through its input banks on the
        # iCE40): a full word waits a cycle before the next byte is taken
        m.submodules.features = features = ByteGather(det.i.payload.shape())
        wiring.connect(m, wiring.flipped(self.i), features.i)
        wiring.connect(m, features.o, det.i)

        # -- load: `stride` bytes, the first of them the write's payload, then one write to
        # the memory its bytes' `kind` names, unless it falls outside the memories
        n = max(self.weight_bytes, self.threshold_bytes)
        m.submodules.writes = writes = ByteGather(8 * n, stride=self.stride)
        kind = Signal()
        m.d.comb += [
            writes.i.payload.eq(self.load.payload.data),
            writes.i.valid.eq(self.load.valid),
            self.load.ready.eq(writes.i.ready),
        ]
        with m.If(self.load.valid & self.load.ready):
            m.d.sync += kind.eq(self.load.payload.kind)
        wl = det.w_write.payload.shape()
        tl = det.t_write.payload.shape()
        w_view = wl(writes.o.payload[:wl.size])
        t_view = tl(writes.o.payload[:tl.size])
        w_ok = Signal()
        t_ok = Signal()
        is_w = Signal()
        m.d.comb += [
            is_w.eq(kind == LOAD_WEIGHT),
            w_ok.eq(w_view.addr < det.depth),
            t_ok.eq((t_view.band <= 2) & (t_view.cls < det.n_classes)),
            det.w_write.payload.eq(w_view),
            det.t_write.payload.eq(t_view),
            det.w_write.valid.eq(writes.o.valid & is_w & w_ok),
            det.t_write.valid.eq(writes.o.valid & ~is_w & t_ok),
            writes.o.ready.eq(Mux(is_w, ~w_ok | det.w_write.ready, ~t_ok | det.t_write.ready)),
        ]

        # -- records: out as little-endian bytes, read in place from the detector's output
        # register; the record is taken when its last byte leaves
        m.submodules.records = records = ByteScatter(det.o.payload.shape())
        wiring.connect(m, det.o, records.i)
        wiring.connect(m, records.o, wiring.flipped(self.o))
        return m
