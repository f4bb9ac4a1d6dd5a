"""``CofiberDetector``: the cofiber detection circuit of seed 001, streaming, with box rows.

Golden twin: :func:`vitgates.golden.detector.ref_detect` (every record, in order, bit for
bit), followed by one end record per frame.

::

    features ──▶ Int8Classifier ──▶ [FIFO] ──▶ CofiberBands ──▶ skid ──▶ BandThreshold ──▶ records
                 P0 = W·x per pixel           bands formed on    acc > T[band, class]
                 (INT8 × INT8, exact)         the accumulators

The weights are applied to the INT8 grid first and the bands are formed on the
accumulators: ``W·band0 = 4·P0 − P1↑``, ``W·band1 = 4·P1 − P2↑``, ``W·band2 = P2`` with
``P1``, ``P2`` the 2×2 block sums (proofs/Classify.v ``classify_commutes_with_bands``).
Both multiplier operands stay INT8 (two products per SB_MAC16) and a frame costs
``H·W·C·R`` MACs instead of ``(21/16)·H·W·C·R``.

Ports: ``i`` the features in 4×4-block-major order (docs/detector.md), ``lanes`` INT8
channels per transfer; ``o`` detection records (:func:`~vitgates.golden.detector_formats.
detection_layout`); ``w_write`` weight words (:func:`~vitgates.golden.detector.
pack_weights`; accepted while the classifier is idle, i.e. before a frame);
``t_write`` thresholds (:func:`~vitgates.golden.detector.pack_thresholds`; always).

Widths: accumulators ``acc_bits(C)`` (25 for C = 768), band accumulators, thresholds and
record fields ``acc_bits(C) + 5`` (30).
"""

from amaranth import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.detector import Folding
from ..golden.detector_formats import (
    detection_layout,
    threshold_write_layout,
    weight_write_layout,
)
from ..golden.detector_head import BOX_ROWS, NUM_CLASSES, acc_bits
from .band_threshold import BandThreshold
from .cofiber_bands import CofiberBands
from .detector_profile import MemoryKind, MultiplierKind
from .int8_classifier import Int8Classifier
from .stream import SkidBuffer, StreamFIFO

__all__ = ["CofiberDetector"]


class CofiberDetector(wiring.Component):
    """Feature grid in, sparse detections out.

    Parameters
    ----------
    grid : (int, int)
        H × W of the stride-16 feature grid (divisible by 4).
    channels : int
        C (768 for EUPE-ViT-B).
    n_classes, box_rows : int
        K (80) and B (4, or 0 without box regression).
    folding : Folding
        The classifier's MAC array (:class:`~vitgates.golden.detector.Folding`).
    mul : MultiplierKind
        The multipliers' primitive (:class:`~vitgates.hw.detector_profile.MultiplierKind`).
    ram : MemoryKind
        The weight memory's primitive (:class:`~vitgates.hw.detector_profile.MemoryKind`).
    fifo_depth : int
        Entries of a FIFO between the classifier and the bands (0: none), which lets the
        classifier run on while the bands stage emits a block.

    The configurations it is built in (folding, primitives, FIFO, box rows) are the
    profiles of :mod:`vitgates.hw.detector_profile`
    (:meth:`~vitgates.hw.detector_profile.DetectorProfile.detector_args`).

    Attributes
    ----------
    i : In(stream.Signature(data.ArrayLayout(signed(8), folding.lanes)))
    o : Out(stream.Signature(detection_layout(K, B, acc_bits(C) + 5, grid)))
    w_write : In(stream.Signature(weight_write_layout(depth, rows·lanes)))
    t_write : In(stream.Signature(threshold_write_layout(K, acc_bits(C) + 5)))
    """

    def __init__(self, *, grid=(40, 40), channels: int = 768, n_classes: int = NUM_CLASSES,
                 box_rows: int = BOX_ROWS, folding: Folding | None = None,
                 mul: MultiplierKind = MultiplierKind.GENERIC,
                 ram: MemoryKind = MemoryKind.GENERIC, fifo_depth: int = 0):
        folding = folding or Folding()
        self.grid, self.channels = tuple(grid), channels
        self.n_classes, self.box_rows, self.folding = n_classes, box_rows, folding
        self.mul = MultiplierKind.parse(mul, "CofiberDetector mul")
        self.ram = MemoryKind.parse(ram, "CofiberDetector ram")
        self.fifo_depth = fifo_depth
        self.n_rows = n_classes + box_rows
        self.acc_width = acc_bits(channels)
        self.value_width = self.acc_width + 5
        self.depth = folding.depth(self.n_rows, channels)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(8), folding.lanes))),
            "o": Out(stream.Signature(detection_layout(n_classes, box_rows, self.value_width,
                                                       self.grid))),
            "w_write": In(stream.Signature(weight_write_layout(
                self.depth, folding.rows * folding.lanes))),
            "t_write": In(stream.Signature(threshold_write_layout(n_classes,
                                                                  self.value_width))),
        })

    @property
    def macs_per_frame(self) -> int:
        """Multiply-accumulates of one frame: ``H·W·C·R`` (the bands cost additions only)."""
        H, W = self.grid
        return H * W * self.channels * self.n_rows

    def elaborate(self, platform):
        m = Module()
        m.submodules.classifier = cls = Int8Classifier(
            channels=self.channels, n_rows=self.n_rows, folding=self.folding, mul=self.mul,
            ram=self.ram)
        m.submodules.bands = bands = CofiberBands(
            width=self.acc_width, channels=self.n_rows, grid=self.grid,
            pixels=self.folding.pixels)
        m.submodules.threshold = thr = BandThreshold(
            n_classes=self.n_classes, box_rows=self.box_rows, width=self.value_width,
            grid=self.grid)

        wiring.connect(m, wiring.flipped(self.i), cls.i)
        wiring.connect(m, wiring.flipped(self.w_write), cls.w_write)
        wiring.connect(m, wiring.flipped(self.t_write), thr.t_write)
        if self.fifo_depth:
            m.submodules.fifo = fifo = StreamFIFO(cls.o.payload.shape(), self.fifo_depth,
                                                  buffered=True)
            wiring.connect(m, cls.o, fifo.i)
            wiring.connect(m, fifo.o, bands.i)
        else:
            wiring.connect(m, cls.o, bands.i)
        # the bands' memory enables and counters hang on their output's ready: cut it here
        m.submodules.skid = skid = SkidBuffer(bands.o.payload.shape())
        wiring.connect(m, bands.o, skid.i)
        wiring.connect(m, skid.o, thr.i)
        wiring.connect(m, thr.o, wiring.flipped(self.o))
        return m

