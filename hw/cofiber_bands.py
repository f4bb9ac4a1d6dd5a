"""``CofiberBands``: the three integer cofiber bands of a grid streamed block by block.

Golden twin: :func:`vitgates.golden.cofiber.cofiber_bands`, in the emission order of
:func:`vitgates.golden.cofiber.band_order`.

The grid arrives 4×4-block-major (docs/detector.md, :func:`~vitgates.golden.cofiber.
stream_order`): blocks in raster order, the four 2×2 sub-blocks of a block in raster order,
the pixels of a sub-block in raster order, channels fastest; each transfer carries one
channel of ``pixels`` consecutive pixels (1, 2 — a row of a sub-block — or 4 — the whole
sub-block). In that order a band-0 value is complete once its sub-block has arrived, and a
band-1 or band-2 value once its block has, so the component buffers no more than that:

- ``X``: the current sub-block, ``4·C`` values;
- ``Q``: the block sums ``S1`` of the current block's four sub-blocks, ``4·C`` values,
  accumulated as the sub-blocks arrive;
- ``S2``: the running sum of the block, ``C`` values.

After each sub-block it emits band 0 of its four pixels (``4·x − S1``), and after the
fourth sub-block of a block band 1 of the four sub-blocks (``4·S1 − S2``) and band 2 of the
block (``S2``), each location's ``C`` channels in order. Input is refused while it emits.

Widths, for ``width``-bit signed values (:func:`~vitgates.golden.cofiber.band_widths`):
``S1`` ``width + 2``, ``S2`` ``width + 4``, band 0 ``width + 3``, band 1 ``width + 5``,
band 2 ``width + 4`` bits; the output carries every band in ``width + 5`` bits, never
wrapping (INT8: 13 bits; on the detector's 25-bit accumulators: 30 bits,
proofs/Classify.v ``acc_widths_768``).

Throughput: one input transfer per cycle while receiving, one output per cycle while
emitting (when ``o`` is ready); per block ``16·C/pixels`` input cycles plus ``21·C``
output cycles plus a few cycles at each change of phase. Latency from the last transfer of
a sub-block to its first band-0 value on ``o``: 5 cycles.
"""

from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["CofiberBands", "band_layout"]


def band_layout(width: int, channels: int, grid) -> data.StructLayout:
    """Payload of ``o``: one band value of one channel at one location.

    ``value`` (signed ``width + 5`` bits), ``band`` (0, 1, 2), ``y``/``x`` in the band's own
    grid, ``c`` the channel, ``last`` on the final value of a frame.
    """
    H, W = grid
    return data.StructLayout({
        "value": signed(width + 5),
        "band": 2,
        "y": range(H),
        "x": range(W),
        "c": range(channels),
        "last": 1,
    })


class CofiberBands(wiring.Component):
    """Integer cofiber bands of a grid of ``width``-bit signed values.

    Parameters
    ----------
    width : int
        Bits of the signed input values (8 for features; the classifier's accumulator width
        inside the detector).
    channels : int
        C, values per pixel (at least 2).
    grid : (int, int)
        Frame height and width in pixels, both divisible by 4.
    pixels : int
        Pixels per input transfer: 1, 2 or 4.

    Attributes
    ----------
    i : In(stream.Signature(data.ArrayLayout(signed(width), pixels)))
    o : Out(stream.Signature(band_layout(width, channels, grid)))
    """

    def __init__(self, *, width: int, channels: int, grid=(40, 40), pixels: int = 1):
        H, W = grid
        if H % 4 or W % 4 or H <= 0 or W <= 0:
            raise ValueError(f"grid {H}x{W}: height and width must be divisible by 4")
        if channels < 2:
            raise ValueError("channels must be at least 2")
        if pixels not in (1, 2, 4):
            raise ValueError(f"pixels must be 1, 2 or 4, got {pixels}")
        self.width, self.channels, self.grid, self.pixels = width, channels, (H, W), pixels
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(width), pixels))),
            "o": Out(stream.Signature(band_layout(width, channels, (H, W)))),
        })

    def elaborate(self, platform):
        m = Module()
        w, C, P = self.width, self.channels, self.pixels
        H, W = self.grid
        G = 4 // P  # input groups per sub-block
        cb = (C - 1).bit_length()  # channel address bits: regions of 2**cb words, no adders

        m.submodules.x_mem = x_mem = Memory(shape=data.ArrayLayout(signed(w), P),
                                            depth=G << cb, init=[])
        m.submodules.q_mem = q_mem = Memory(shape=signed(w + 2), depth=4 << cb, init=[])
        m.submodules.s_mem = s_mem = Memory(shape=signed(w + 4), depth=C, init=[])
        x_wr, x_rd = x_mem.write_port(), x_mem.read_port()
        q_wr, q_rd = q_mem.write_port(), q_mem.read_port()
        s_wr, s_rd = s_mem.write_port(), s_mem.read_port()

        by = Signal(range(H // 4))
        bx = Signal(range(W // 4))
        sub = Signal(2)  # sub-block being received
        grp = Signal(range(G))
        ch = Signal(range(C))
        ei = Signal(2)  # emission: pixel (band 0) or sub-block (band 1)
        ec = Signal(range(C))

        # -- emission pipeline: A (addresses) -> B (memory data) -> C (registered memory data)
        # -> D (operands) -> o ---------------------------------------------------------------
        # value = minuend − subtrahend: band 0 4·x − S1, band 1 4·S1 − S2, band 2 S2 − 0;
        # D registers the two operands so that the subtractor starts from flip-flops.
        b_valid = Signal()
        b_lane = Signal(range(P))
        tags = data.StructLayout({"band": 2, "y": range(H), "x": range(W), "c": range(C),
                                  "last": 1})
        b_tags = Signal(tags)
        d_valid = Signal()
        d_tags = Signal(tags)
        d_min = Signal(signed(w + 4))
        d_sub = Signal(signed(w + 4))
        # B, C, D and o advance together whenever o is free (one gate after o.ready)
        b_free = Signal()
        m.d.comb += b_free.eq(~self.o.valid | self.o.ready)

        # C: the memories' outputs in flip-flops (block RAM clock-to-out is slow on both
        # FPGAs; the lane multiplexer and the operand selection start from registers)
        c_valid = Signal()
        c_tags = Signal(tags)
        c_lane = Signal(range(P))
        c_x = Signal.like(x_rd.data)
        c_q = Signal.like(q_rd.data)
        c_s = Signal.like(s_rd.data)
        with m.If(b_free):
            m.d.sync += [c_valid.eq(b_valid), c_tags.eq(b_tags), c_lane.eq(b_lane),
                         c_x.eq(x_rd.data), c_q.eq(q_rd.data), c_s.eq(s_rd.data)]

        xv = Signal(signed(w))
        m.d.comb += xv.eq(c_x[0])
        for p in range(1, P):
            with m.If(c_lane == p):
                m.d.comb += xv.eq(c_x[p])
        minuend = Signal(signed(w + 4))
        subtrahend = Signal(signed(w + 4))
        with m.Switch(c_tags.band):
            with m.Case(0):
                m.d.comb += [minuend.eq(4 * xv), subtrahend.eq(c_q)]
            with m.Case(1):
                m.d.comb += [minuend.eq(4 * c_q), subtrahend.eq(c_s)]
            with m.Default():
                m.d.comb += [minuend.eq(c_s), subtrahend.eq(0)]
        with m.If(b_free):
            m.d.sync += [d_valid.eq(c_valid), d_tags.eq(c_tags), d_min.eq(minuend),
                         d_sub.eq(subtrahend)]
            m.d.sync += [
                self.o.valid.eq(d_valid),
                self.o.payload.value.eq(d_min - d_sub),
                self.o.payload.band.eq(d_tags.band),
                self.o.payload.y.eq(d_tags.y),
                self.o.payload.x.eq(d_tags.x),
                self.o.payload.c.eq(d_tags.c),
                self.o.payload.last.eq(d_tags.last),
            ]
        fire = Signal()  # stage A issues an emission read this cycle
        with m.If(b_free):
            m.d.sync += b_valid.eq(fire)

        # -- receiving: X written directly, S1 and S2 by read-modify-write ------------------
        take = Signal()
        rmw = Signal()
        rmw_q0 = Signal()
        rmw_s0 = Signal()
        rmw_qaddr = Signal.like(q_wr.addr)
        rmw_saddr = Signal.like(s_wr.addr)
        psum = Signal(signed(w + 2))
        m.d.comb += psum.eq(sum(self.i.payload[p] for p in range(P)))
        psum_r = Signal.like(psum)
        m.d.sync += [rmw.eq(take), psum_r.eq(psum), rmw_qaddr.eq(Cat(ch, sub)),
                     rmw_saddr.eq(ch), rmw_q0.eq(grp == 0), rmw_s0.eq((sub == 0) & (grp == 0))]
        m.d.comb += [
            x_wr.addr.eq(Cat(ch, grp)), x_wr.data.eq(self.i.payload), x_wr.en.eq(take),
            q_wr.addr.eq(rmw_qaddr), q_wr.en.eq(rmw),
            q_wr.data.eq(Mux(rmw_q0, 0, q_rd.data) + psum_r),
            s_wr.addr.eq(rmw_saddr), s_wr.en.eq(rmw),
            s_wr.data.eq(Mux(rmw_s0, 0, s_rd.data) + psum_r),
        ]

        last_block = (by == H // 4 - 1) & (bx == W // 4 - 1)

        # a read port left enabled in a state that does not use it would overwrite the data
        # that stage B still holds while o stalls: every read is enabled explicitly
        m.d.comb += [x_rd.en.eq(0), q_rd.en.eq(0), s_rd.en.eq(0)]

        with m.FSM(name="phase"):
            with m.State("RECEIVE"):
                # wait for the last emitted value to leave B: receiving reuses the read ports
                m.d.comb += [
                    self.i.ready.eq(~b_valid),
                    take.eq(self.i.valid & ~b_valid),
                    q_rd.addr.eq(Cat(ch, sub)), q_rd.en.eq(~b_valid),
                    s_rd.addr.eq(ch), s_rd.en.eq(~b_valid),
                ]
                with m.If(take):
                    with m.If(ch == C - 1):
                        m.d.sync += ch.eq(0)
                        with m.If(grp == G - 1):
                            # ei and ec are back at 0: every emission phase wraps them
                            m.d.sync += grp.eq(0)
                            m.next = "BAND0"
                        with m.Else():
                            m.d.sync += grp.eq(grp + 1)
                    with m.Else():
                        m.d.sync += ch.eq(ch + 1)

            with m.State("BAND0"):
                m.d.comb += [
                    fire.eq(b_free),
                    x_rd.addr.eq(Cat(ec, ei[P.bit_length() - 1:])), x_rd.en.eq(b_free),
                    q_rd.addr.eq(Cat(ec, sub)), q_rd.en.eq(b_free),
                ]
                with m.If(fire):
                    m.d.sync += [
                        b_tags.band.eq(0), b_lane.eq(ei[:P.bit_length() - 1]),
                        b_tags.y.eq(4 * by + 2 * sub[1] + ei[1]),
                        b_tags.x.eq(4 * bx + 2 * sub[0] + ei[0]),
                        b_tags.c.eq(ec), b_tags.last.eq(0),
                    ]
                    with m.If(ec == C - 1):
                        m.d.sync += [ec.eq(0), ei.eq(ei + 1)]
                        with m.If(ei == 3):
                            with m.If(sub == 3):
                                m.next = "BAND1"
                            with m.Else():
                                m.d.sync += sub.eq(sub + 1)
                                m.next = "RECEIVE"
                    with m.Else():
                        m.d.sync += ec.eq(ec + 1)

            with m.State("BAND1"):
                m.d.comb += [
                    fire.eq(b_free),
                    q_rd.addr.eq(Cat(ec, ei)), q_rd.en.eq(b_free),
                    s_rd.addr.eq(ec), s_rd.en.eq(b_free),
                ]
                with m.If(fire):
                    m.d.sync += [
                        b_tags.band.eq(1),
                        b_tags.y.eq(2 * by + ei[1]), b_tags.x.eq(2 * bx + ei[0]),
                        b_tags.c.eq(ec), b_tags.last.eq(0),
                    ]
                    with m.If(ec == C - 1):
                        m.d.sync += [ec.eq(0), ei.eq(ei + 1)]
                        with m.If(ei == 3):
                            m.next = "BAND2"
                    with m.Else():
                        m.d.sync += ec.eq(ec + 1)

            with m.State("BAND2"):
                m.d.comb += [fire.eq(b_free), s_rd.addr.eq(ec), s_rd.en.eq(b_free)]
                with m.If(fire):
                    m.d.sync += [
                        b_tags.band.eq(2), b_tags.y.eq(by), b_tags.x.eq(bx), b_tags.c.eq(ec),
                        b_tags.last.eq(last_block & (ec == C - 1)),
                    ]
                    with m.If(ec == C - 1):
                        m.d.sync += [ec.eq(0), sub.eq(0)]
                        with m.If(bx == W // 4 - 1):
                            m.d.sync += bx.eq(0)
                            with m.If(by == H // 4 - 1):
                                m.d.sync += by.eq(0)
                            with m.Else():
                                m.d.sync += by.eq(by + 1)
                        with m.Else():
                            m.d.sync += bx.eq(bx + 1)
                        m.next = "RECEIVE"
                    with m.Else():
                        m.d.sync += ec.eq(ec + 1)
        return m
