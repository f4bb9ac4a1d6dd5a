"""``Int8Classifier``: a folded INT8 MAC array computing ``P0 = W·x`` for every pixel.

Golden twin: the accumulators ``p0`` of :func:`vitgates.golden.detector.accumulators_via_grid`
(before the bands), row by row in :func:`~vitgates.golden.detector.hw_row_order`.

**Folding** (:class:`~vitgates.golden.detector.Folding`). ``pixels`` consecutive pixels of
the input form a group and share every weight read; each cycle reads one weight word,
``rows × lanes`` INT8 weights (``rows`` rows, ``lanes`` consecutive channels), and does
``pixels·rows·lanes`` multiply-accumulates. A *pass* walks the ``C / lanes`` words of one
block of ``rows`` rows; a group takes ``ceil(R / rows)`` passes. On the UP5K: 2 pixels ×
4 rows × 2 lanes = 16 MACs per cycle on 8 SB_MAC16 in dual 8×8 mode
(:class:`~vitgates.hw.dual_mul8.DualMul8`), from 8 weights per cycle = 64 bits, the width of
the four SPRAMs side by side: both bounds meet at 16, and 84 rows = 21 passes waste none.

**Buffers.** The features of a group go to one of two banks (``pixels`` memories of
``2·C/lanes`` words of ``lanes`` bytes) while the other bank is being computed on, so input
and compute overlap. Accumulators are ``acc_width`` bits, exact for INT8 weights and
features (``acc_bits``: 25 for 768 channels; proofs/Classify.v ``acc_widths_768``).

**Timing.** A pipeline of six stages (issue, memory, memory data register, multiplier input,
product, lane sum)
feeds the accumulators; every stage advances together on one enable, which drops only when a
pass ends while the previous pass's results are still waiting on ``o``. Steady state: one
weight word per cycle, ``C/lanes · ceil(R/rows)`` cycles per group, as long as the input
delivers a group (``pixels·C/lanes`` transfers) within that time and ``o`` takes a pass's
``rows`` results within a pass.

**Weights** are written through ``w_write`` (one word per transfer, layout of
:func:`~vitgates.golden.detector.pack_weights`); it is ready only while the classifier is
idle (no complete group waiting, nothing in flight), because the weight memory has one port.
"""

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.detector import Folding
from ..golden.detector_formats import weight_write_layout
from ..golden.detector_head import acc_bits
from .detector_profile import MemoryKind, MultiplierKind
from .dual_mul8 import DualMul8
from .single_port_ram import SinglePortRAM

__all__ = ["Int8Classifier"]


class Int8Classifier(wiring.Component):
    """Accumulators ``Σ_c W[r, c]·x[p, c]`` of every pixel ``p`` and weight row ``r``.

    Parameters
    ----------
    channels : int
        C, channels per pixel (a multiple of ``folding.lanes``).
    n_rows : int
        R, weight rows (84: 4 box rows then 80 classes, :func:`hw_row_order`).
    folding : Folding
    mul : MultiplierKind
        :class:`DualMul8` implementation (:class:`~vitgates.hw.detector_profile.
        MultiplierKind`).
    ram : MemoryKind
        weight memory (:class:`SinglePortRAM`; :class:`~vitgates.hw.detector_profile.
        MemoryKind`).

    Attributes
    ----------
    i : In(stream.Signature(data.ArrayLayout(signed(8), lanes)))
        Features, pixel after pixel, each pixel's channels in order, ``lanes`` per transfer.
    o : Out(stream.Signature(data.ArrayLayout(signed(acc_width), pixels)))
        For each group of ``pixels`` pixels, rows 0..R−1 in order; each transfer holds one
        row's accumulators for the group's pixels (element ``p``: the group's ``p``-th).
    w_write : In(stream.Signature(weight_write_layout(depth, rows·lanes)))
        Weight words; ready only while idle.
    """

    def __init__(self, *, channels: int, n_rows: int, folding: Folding | None = None,
                 mul: MultiplierKind = MultiplierKind.GENERIC,
                 ram: MemoryKind = MemoryKind.GENERIC):
        folding = folding or Folding()
        if n_rows < 1:
            raise ValueError("n_rows must be positive")
        self.channels, self.n_rows, self.folding = channels, n_rows, folding
        self.mul = MultiplierKind.parse(mul, "Int8Classifier mul")
        self.ram = MemoryKind.parse(ram, "Int8Classifier ram")
        self.wpp = folding.words_per_pass(channels)
        self.n_passes = folding.passes(n_rows)
        self.depth = folding.depth(n_rows, channels)
        self.acc_width = acc_bits(channels)
        P, Lr, Lc = folding.pixels, folding.rows, folding.lanes
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(8), Lc))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(self.acc_width), P))),
            "w_write": In(stream.Signature(weight_write_layout(self.depth, Lr * Lc))),
        })

    @property
    def cycles_per_group(self) -> int:
        """Weight words read per pixel group: the steady-state cycles per group."""
        return self.wpp * self.n_passes

    def elaborate(self, platform):
        m = Module()
        P, Lr, Lc = self.folding.pixels, self.folding.rows, self.folding.lanes
        wpp, n_passes = self.wpp, self.n_passes

        # -- feature banks: one memory per pixel of a group, two banks each ----------------
        fmem = []
        for p in range(P):
            mem = Memory(shape=data.ArrayLayout(signed(8), Lc), depth=2 * wpp, init=[])
            m.submodules[f"features{p}"] = mem
            fmem.append((mem.write_port(), mem.read_port()))
        full = Signal(2)
        wbank = Signal()
        wpix = Signal(range(P))
        wk = Signal(range(wpp))
        wfa = Signal(range(2 * wpp))  # = wbank·wpp + wk, kept as a register (no adder)
        set_full = Signal(2)
        clr_full = Signal(2)

        m.d.comb += self.i.ready.eq(~full.bit_select(wbank, 1))
        for p, (wr, _) in enumerate(fmem):
            m.d.comb += [
                wr.addr.eq(wfa),
                wr.data.eq(self.i.payload),
                wr.en.eq(self.i.valid & self.i.ready & (wpix == p)),
            ]
        with m.If(self.i.valid & self.i.ready):
            with m.If(wk == wpp - 1):
                m.d.sync += [wk.eq(0), wfa.eq(Mux(wbank, wpp, 0))]
                with m.If(wpix == P - 1):
                    m.d.sync += [wpix.eq(0), wbank.eq(~wbank), wfa.eq(Mux(wbank, 0, wpp))]
                    m.d.comb += set_full.bit_select(wbank, 1).eq(1)
                with m.Else():
                    m.d.sync += wpix.eq(wpix + 1)
            with m.Else():
                m.d.sync += [wk.eq(wk + 1), wfa.eq(wfa + 1)]
        m.d.sync += full.eq((full | set_full) & ~clr_full)

        # -- weight memory -------------------------------------------------------------------
        m.submodules.weights = wram = SinglePortRAM(width=8 * Lr * Lc, depth=self.depth,
                                                    impl=self.ram)

        # -- issue stage ---------------------------------------------------------------------
        # every pipeline stage advances together on `en`, a flip-flop (it fans out to the
        # memories' enables and every stage register): its next value is computed ahead
        en = Signal(init=1)
        rbank = Signal()
        rpass = Signal(range(n_passes))
        rk = Signal(range(wpp))
        rfa = Signal(range(2 * wpp))  # = rbank·wpp + rk
        rwa = Signal(range(self.depth))  # = rpass·wpp + rk
        issue = Signal()
        # stages after issue: memory out, memory data register, multiplier in, product, lane
        # sum (the register keeps the slow SPRAM/EBR outputs away from the DSP inputs)
        depth = 5
        valid = [Signal(name=f"valid{s}") for s in range(1, depth + 1)]
        first = [Signal(name=f"first{s}") for s in range(1, depth + 1)]
        last = [Signal(name=f"last{s}") for s in range(1, depth + 1)]
        pas = [Signal(range(n_passes), name=f"pass{s}") for s in range(1, depth + 1)]

        idle = Signal()
        m.d.comb += [
            idle.eq((full == 0) & ~Cat(*valid).any()),
            self.w_write.ready.eq(idle),
            issue.eq(en & full.bit_select(rbank, 1)),
        ]
        writing = self.w_write.valid & self.w_write.ready
        m.d.comb += [
            wram.we.eq(writing),
            wram.wdata.eq(self.w_write.payload.data),
            wram.addr.eq(self.w_write.payload.addr),
            wram.re.eq(en),  # while stalled the RAM must hold its output
        ]
        with m.If(~writing):
            m.d.comb += wram.addr.eq(rwa)
        for _, rd in fmem:
            m.d.comb += [rd.addr.eq(rfa), rd.en.eq(en)]
        with m.If(issue):
            with m.If(rk == wpp - 1):
                m.d.sync += [rk.eq(0), rfa.eq(Mux(rbank, wpp, 0)), rwa.eq(rwa + 1)]
                with m.If(rpass == n_passes - 1):
                    m.d.sync += [rpass.eq(0), rbank.eq(~rbank), rfa.eq(Mux(rbank, 0, wpp)),
                                 rwa.eq(0)]
                    m.d.comb += clr_full.bit_select(rbank, 1).eq(1)
                with m.Else():
                    m.d.sync += rpass.eq(rpass + 1)
            with m.Else():
                m.d.sync += [rk.eq(rk + 1), rfa.eq(rfa + 1), rwa.eq(rwa + 1)]

        with m.If(en):
            m.d.sync += [valid[0].eq(issue), first[0].eq(rk == 0), last[0].eq(rk == wpp - 1),
                         pas[0].eq(rpass)]
            for s in range(1, depth):
                m.d.sync += [valid[s].eq(valid[s - 1]), first[s].eq(first[s - 1]),
                             last[s].eq(last[s - 1]), pas[s].eq(pas[s - 1])]

        # -- multipliers: every (row, lane, pixel) product, two per DualMul8 -----------------
        word = Signal(data.ArrayLayout(signed(8), Lr * Lc))
        with m.If(en):
            m.d.sync += word.eq(wram.rdata)
        fdata = [Signal.like(rd.data, name=f"fdata{p}") for p, (_, rd) in enumerate(fmem)]
        with m.If(en):
            m.d.sync += [fd.eq(rd.data) for fd, (_, rd) in zip(fdata, fmem, strict=True)]
        products = [(r, lane, p) for r in range(Lr) for lane in range(Lc) for p in range(P)]
        prod = {}
        for n in range(0, len(products), 2):
            mul = DualMul8(self.mul)
            m.submodules[f"mul{n // 2}"] = mul
            m.d.comb += mul.ce.eq(en)
            for half, key in zip(("lo", "hi"), products[n:n + 2], strict=False):
                r, lane, p = key
                m.d.comb += [
                    getattr(mul, f"a_{half}").eq(word[r * Lc + lane]),
                    getattr(mul, f"b_{half}").eq(fdata[p][lane]),
                ]
                prod[key] = getattr(mul, f"p_{half}")

        # -- lane sums (registered), then the accumulators ------------------------------------
        aw = self.acc_width
        lane_sum = [[Signal(signed(16 + (Lc - 1).bit_length()), name=f"sum_r{r}_p{p}")
                     for p in range(P)] for r in range(Lr)]
        acc = [[Signal(signed(aw), name=f"acc_r{r}_p{p}") for p in range(P)]
               for r in range(Lr)]
        out_buf = [[Signal(signed(aw), name=f"out_r{r}_p{p}") for p in range(P)]
                   for r in range(Lr)]
        out_full = Signal()
        out_row = Signal(range(Lr))
        out_rows = Signal(range(Lr + 1))  # real rows in the buffered pass
        f4, l4, p4, v4 = first[4], last[4], pas[4], valid[4]

        # stall while a finished pass meets a full output buffer: en = ~(v4 & l4 & out_full),
        # from the next values of those three registers
        o_done = self.o.valid & self.o.ready & (out_row == out_rows - 1)
        v4_next = Mux(en, valid[3], v4)
        l4_next = Mux(en, last[3], l4)
        full_next = (en & v4 & l4) | (out_full & ~o_done)
        m.d.sync += en.eq(~(v4_next & l4_next & full_next))
        with m.If(en):
            for r in range(Lr):
                for p in range(P):
                    total = prod[(r, 0, p)]
                    for lane in range(1, Lc):
                        total = total + prod[(r, lane, p)]
                    m.d.sync += lane_sum[r][p].eq(total)

        with m.If(en & v4):
            for r in range(Lr):
                for p in range(P):
                    new = Signal(signed(aw), name=f"new_r{r}_p{p}")
                    m.d.comb += new.eq(Mux(f4, lane_sum[r][p], acc[r][p] + lane_sum[r][p]))
                    m.d.sync += acc[r][p].eq(new)
                    with m.If(l4):
                        m.d.sync += out_buf[r][p].eq(new)
            with m.If(l4):
                rows_left = [min(Lr, self.n_rows - q * Lr) for q in range(n_passes)]
                m.d.sync += [out_full.eq(1), out_row.eq(0)]
                with m.Switch(p4):
                    for q, n in enumerate(rows_left):
                        with m.Case(q):
                            m.d.sync += out_rows.eq(n)

        # -- output: the buffered pass, one row per transfer ---------------------------------
        # a shift register, so that o.payload is a flip-flop (no row multiplexer after it)
        m.d.comb += self.o.valid.eq(out_full)
        m.d.comb += [self.o.payload[p].eq(out_buf[0][p]) for p in range(P)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [out_buf[r][p].eq(out_buf[r + 1][p]) for r in range(Lr - 1)
                         for p in range(P)]
            with m.If(out_row == out_rows - 1):
                m.d.sync += out_full.eq(0)
            with m.Else():
                m.d.sync += out_row.eq(out_row + 1)
        return m

