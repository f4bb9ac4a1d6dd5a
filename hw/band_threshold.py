"""``BandThreshold``: band accumulators in, sparse detections out.

Golden twin: :func:`vitgates.golden.detector.ref_detect` (the detection records, in order).

Its input is :class:`~vitgates.hw.cofiber_bands.CofiberBands`'s output on the classifier's
accumulators: per band location, the ``B`` box rows first (channels ``0..B−1``) and then the
``K`` class rows (channels ``B..B+K−1``; :func:`~vitgates.golden.detector.hw_row_order`).
The box accumulators of a location are kept in registers; class ``k`` fires when its
accumulator exceeds ``T[band, k]``, and then one record leaves with the location, the class,
the accumulator and the location's box accumulators. Locations where nothing fires produce
nothing.

Thresholds ``T`` are a run-time register file in block RAM, one word per (band, class),
written through ``t_write`` at any time (a write takes effect for values that arrive two
cycles later) and read once per class value. Its address is the band and the input's
channel side by side (``4 × 2^⌈log2(K+B)⌉`` words, some unused): no adder sits between the
input and the memory.

After the value flagged ``last`` (the final band-2 value of a frame) and its record, if
any, one *end* record follows (``end = 1``, other fields 0): every frame ends with exactly
one, even a frame without detections.

Timing: one input value per cycle; latency 4 cycles from an input transfer to its record on
``o``. The whole pipeline stalls while a record waits on ``o`` (and for one cycle after
the last value of a frame, to emit the end record).
"""

from amaranth import Cat, Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.detector_formats import detection_layout, threshold_write_layout
from .cofiber_bands import band_layout

__all__ = ["BandThreshold"]


class BandThreshold(wiring.Component):
    """Threshold the class rows of a band-value stream; emit detection records.

    Parameters
    ----------
    n_classes, box_rows : int
        K and B (0 or 4); the input has ``K + B`` channels per location.
    width : int
        Bits of the signed input values, the thresholds and the record's accumulators.
    grid : (int, int)
        Frame height and width of band 0.

    Attributes
    ----------
    i : In(stream.Signature(band_layout(width − 5, K + B, grid)))
    o : Out(stream.Signature(detection_layout(K, B, width, grid)))
    t_write : In(stream.Signature(threshold_write_layout(K, width)))
        Always ready.
    """

    def __init__(self, *, n_classes: int, box_rows: int, width: int, grid=(40, 40)):
        self.n_classes, self.box_rows, self.width, self.grid = n_classes, box_rows, width, grid
        super().__init__({
            "i": In(stream.Signature(band_layout(width - 5, n_classes + box_rows, grid))),
            "o": Out(stream.Signature(detection_layout(n_classes, box_rows, width, grid))),
            "t_write": In(stream.Signature(threshold_write_layout(n_classes, width))),
        })

    def elaborate(self, platform):
        m = Module()
        K, B = self.n_classes, self.box_rows

        cb = (K + B - 1).bit_length()
        m.submodules.t_mem = t_mem = Memory(shape=signed(self.width), depth=3 << cb, init=[])
        t_wr, t_rd = t_mem.write_port(), t_mem.read_port()
        m.d.comb += [
            self.t_write.ready.eq(1),
            t_wr.addr.eq(Cat((self.t_write.payload.cls + B)[:cb], self.t_write.payload.band)),
            t_wr.data.eq(self.t_write.payload.data),
            t_wr.en.eq(self.t_write.valid),
        ]

        # stage 1: the accepted value, with its threshold read alongside;
        # stage t: the value and its threshold in flip-flops (the comparator starts there);
        # stage 2: the value with its comparison registered (the comparator stays out of
        #          the ready path); box rows update the box registers on the way in.
        # Both stages and the output register advance together whenever the output
        # register is free, so `i.ready` is one gate away from `o.ready`.
        s1_valid, st_valid, s2_valid = Signal(), Signal(), Signal()
        s1 = Signal.like(self.i.payload)
        st = Signal.like(self.i.payload)
        st_t = Signal(signed(self.width))
        s2 = Signal.like(self.i.payload)
        s2_fires = Signal()
        end_pending = Signal()
        o_free = Signal()
        adv = Signal()
        box = [Signal(signed(self.width), name=f"box{j}") for j in range(B)]
        st_box = Signal(max(B, 1))
        half = self.width // 2
        v_lo, t_lo = st.value[:half], st_t[:half]
        v_hi, t_hi = st.value[half:].as_signed(), st_t[half:].as_signed()
        s2_class, s2_hi_gt, s2_hi_eq, s2_lo_gt = (Signal(name=n) for n in (
            "s2_class", "s2_hi_gt", "s2_hi_eq", "s2_lo_gt"))
        m.d.comb += s2_fires.eq(s2_class & (s2_hi_gt | (s2_hi_eq & s2_lo_gt)))

        m.d.comb += [
            o_free.eq(~self.o.valid | self.o.ready),
            adv.eq(o_free & ~end_pending),
            self.i.ready.eq(adv),
            t_rd.addr.eq(Cat(self.i.payload.c, self.i.payload.band)),
            t_rd.en.eq(adv),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(adv):
            m.d.sync += [
                s1_valid.eq(self.i.valid), s1.eq(self.i.payload),
                st_valid.eq(s1_valid), st.eq(s1), st_t.eq(t_rd.data),
                # which box register stage t feeds, decoded a stage early (short enables)
                st_box.eq(Cat(*(s1_valid & (s1.c == j) for j in range(B)))),
                s2_valid.eq(st_valid), s2.eq(st),
                # value > T from two half-width comparisons (short carry chains), combined
                # in stage 2: value > T ⇔ hi > T_hi ∨ (hi = T_hi ∧ lo > T_lo)
                s2_class.eq(st_valid & (st.c >= B)),
                s2_hi_gt.eq(v_hi > t_hi), s2_hi_eq.eq(v_hi == t_hi), s2_lo_gt.eq(v_lo > t_lo),
            ]
            for j in range(B):
                with m.If(st_box[j]):
                    m.d.sync += box[j].eq(st.value)
            with m.If(s2_valid & s2_fires):
                rec = self.o.payload
                m.d.sync += [
                    self.o.valid.eq(1),
                    rec.end.eq(0),
                    rec.band.eq(s2.band),
                    rec.y.eq(s2.y),
                    rec.x.eq(s2.x),
                    rec.cls.eq(s2.c - B),
                    rec.acc.eq(s2.value),
                ]
                if B:
                    m.d.sync += [rec.box[j].eq(box[j]) for j in range(B)]
            with m.If(s2_valid & s2.last):
                m.d.sync += end_pending.eq(1)
        with m.If(end_pending & o_free):
            m.d.sync += [self.o.valid.eq(1), end_pending.eq(0),
                         self.o.payload.eq(0), self.o.payload.end.eq(1)]
        return m
