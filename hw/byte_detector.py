"""``ByteDetector``: :class:`~vitgates.hw.cofiber_detector.CofiberDetector` behind byte streams.

Golden twin: the detector's wire formats in :mod:`vitgates.golden.link`
(:class:`~vitgates.golden.link.DetectorShape`: ``weight_bytes``, ``threshold_bytes``,
``record_bytes``) around :func:`~vitgates.golden.detector.ref_detect`; the link model
(:class:`~vitgates.golden.link.LinkModel`) is the reference of the whole path.

The detector's own ports are wide (a record is 172 bits on the full-size detector), more
than a byte link carries in one piece. This wrapper gives it three byte streams:

- ``i``: features, one INT8 per transfer, in the detector's order (4×4-block-major,
  :func:`~vitgates.golden.cofiber.to_stream`); ``lanes`` bytes are gathered into one
  detector transfer.
- ``load``: writes, ``stride`` bytes each (``data``), all bytes of one write with the same
  ``kind`` (0 weight word, 1 threshold): the little-endian bytes of the write's payload
  (:func:`~vitgates.hw.int8_classifier.weight_write_layout` /
  :func:`~vitgates.hw.band_threshold.threshold_write_layout`), zero-padded to ``stride``,
  the smallest power of two that holds either. A write whose address is outside the weight
  memory, or whose band is above 2 or class above K − 1, is dropped (not written), so no
  byte sequence can write outside the memories.
- ``o``: each detection record as ``record_bytes`` little-endian bytes, the end-of-frame
  record (``end`` = 1, every other field 0) included.

Throughput: ``i`` takes ``lanes`` bytes in ``lanes + 1`` cycles at best (its ``ready``
comes from a counter: the gather register hands a full word on before it takes the next
byte); ``load`` a byte a cycle, then one cycle (or more, while the detector's write port is
not ready: weights only while the classifier is idle) per write;
``o`` sends ``record_bytes`` bytes a record, a byte a cycle, straight from the detector's
output register (``o.valid`` is the detector's; the record is taken with its last byte).
Latency: that of the detector, plus one cycle on ``i``.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .cofiber_detector import CofiberDetector

__all__ = ["ByteDetector", "LOAD_BYTE", "LOAD_WEIGHT", "LOAD_THRESHOLD"]

LOAD_WEIGHT = 0
LOAD_THRESHOLD = 1

#: A byte of the ``load`` stream: the byte and which memory its write is for.
LOAD_BYTE = data.StructLayout({"data": 8, "kind": 1})


def _nbytes(layout) -> int:
    return -(-data.Layout.cast(layout).size // 8)


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
        self.record_bytes = _nbytes(det.o.payload.shape())
        self.weight_bytes = _nbytes(det.w_write.payload.shape())
        self.threshold_bytes = _nbytes(det.t_write.payload.shape())
        n = max(self.weight_bytes, self.threshold_bytes)
        self.stride = 1 << (n - 1).bit_length()
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.detector = det = self.detector
        lanes = det.folding.lanes

        # -- features: gather `lanes` bytes into one transfer. `i.ready` comes from the
        # count alone (not from the detector's ready, a long path through its input banks on
        # the iCE40): a full word waits a cycle before the next byte is taken
        word = Signal(8 * lanes)
        count = Signal(range(lanes + 1))
        take_word = Signal()
        m.d.comb += [
            det.i.payload.eq(word),
            det.i.valid.eq(count == lanes),
            take_word.eq(det.i.valid & det.i.ready),
            self.i.ready.eq(count != lanes),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [word.eq(Cat(word[8:], self.i.payload)), count.eq(count + 1)]
        with m.Elif(take_word):
            m.d.sync += count.eq(0)

        # -- load: `stride` bytes, the first `n` of them the payload, then one write
        nw, nt = self.weight_bytes, self.threshold_bytes
        n = max(nw, nt)
        shift = Signal(8 * n)
        idx = Signal(range(self.stride))
        kind = Signal()
        pending = Signal()
        wl = data.Layout.cast(det.w_write.payload.shape())
        tl = data.Layout.cast(det.t_write.payload.shape())
        w_view = data.View(wl, shift[:wl.size])
        t_view = data.View(tl, shift[:tl.size])
        w_ok = Signal()
        t_ok = Signal()
        m.d.comb += [
            w_ok.eq(w_view.addr < det.depth),
            t_ok.eq((t_view.band <= 2) & (t_view.cls < det.n_classes)),
            det.w_write.payload.eq(shift[:wl.size]),
            det.t_write.payload.eq(shift[:tl.size]),
            det.w_write.valid.eq(pending & (kind == LOAD_WEIGHT) & w_ok),
            det.t_write.valid.eq(pending & (kind == LOAD_THRESHOLD) & t_ok),
            self.load.ready.eq(~pending),
        ]
        with m.If((det.w_write.valid & det.w_write.ready)
                  | (det.t_write.valid & det.t_write.ready)
                  | (pending & ((kind == LOAD_WEIGHT) & ~w_ok
                                | (kind == LOAD_THRESHOLD) & ~t_ok))):
            m.d.sync += pending.eq(0)
        with m.If(self.load.valid & self.load.ready):
            with m.Switch(idx):
                for k in range(n):
                    with m.Case(k):
                        m.d.sync += shift[8 * k:8 * k + 8].eq(self.load.payload.data)
            m.d.sync += [idx.eq(idx + 1), kind.eq(self.load.payload.kind)]
            with m.If(idx == self.stride - 1):
                m.d.sync += [pending.eq(1), idx.eq(0)]

        # -- records: out as little-endian bytes, read in place from the detector's output
        # register (a byte multiplexer instead of a shift register: the iCE40 is short of
        # flip-flops, not of LUTs); the record is taken when its last byte leaves
        nr = self.record_bytes
        ridx = Signal(range(nr))
        raw = det.o.payload.as_value()
        with m.Switch(ridx):
            for k in range(nr):
                with m.Case(k):
                    m.d.comb += self.o.payload.eq(raw[8 * k:8 * k + 8])
        m.d.comb += [
            self.o.valid.eq(det.o.valid),
            det.o.ready.eq(self.o.ready & (ridx == nr - 1)),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += ridx.eq(Mux(ridx == nr - 1, 0, ridx + 1))
        return m
