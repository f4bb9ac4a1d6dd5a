"""``DualMul8``: two signed 8×8 products per cycle, on one iCE40 SB_MAC16 or in generic logic.

yosys maps an inferred multiplier to an SB_MAC16 in its 16×16 mode only: one product per
DSP. The SB_MAC16 also has a dual 8×8 mode, in which the high bytes and the low bytes of its
A and B operands are multiplied separately; with ``A_SIGNED`` and ``B_SIGNED`` set both
halves are signed (yosys ``cells_sim.v``: ``Al``/``Bl`` are sign-extended when
``MODE_8x8``), and each product of two INT8 values, in ``[−16256, 16384]``, fits its 16-bit
half of the output exactly. That is the configuration used here: two exact INT8 products per
DSP and per cycle, 16 on the UP5K's eight DSPs.

The other candidate, the 16×16 mode with two INT8 values packed into one operand
(``b = x0 + 256·x1``) and a shared weight, is not exact here: ``w·b = w·x0 + 256·w·x1`` puts
the two 16-bit products on overlapping bits of the 32-bit result, and nothing in the DSP
separates them (the guard bits that make such packing work on wider multipliers do not fit
in 16 bits).
"""

from amaranth import Cat, ClockSignal, Const, Instance, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .detector_profile import MultiplierKind

__all__ = ["DualMul8", "ICESTORM_DSP_BLACKBOX"]

_BUSES = {"A": 16, "B": 16, "C": 16, "D": 16, "O": 32}
_SCALAR_IN = ("CLK", "CE", "AHOLD", "BHOLD", "CHOLD", "DHOLD", "IRSTTOP", "IRSTBOT", "ORSTTOP",
              "ORSTBOT", "OLOADTOP", "OLOADBOT", "ADDSUBTOP", "ADDSUBBOT", "OHOLDTOP", "OHOLDBOT",
              "CI", "ACCUMCI", "SIGNEXTIN")
_PARAMS = {"NEG_TRIGGER": 1, "C_REG": 1, "A_REG": 1, "B_REG": 1, "D_REG": 1,
           "TOP_8x8_MULT_REG": 1, "BOT_8x8_MULT_REG": 1, "PIPELINE_16x16_MULT_REG1": 1,
           "PIPELINE_16x16_MULT_REG2": 1, "TOPOUTPUT_SELECT": 2, "TOPADDSUB_LOWERINPUT": 2,
           "TOPADDSUB_UPPERINPUT": 1, "TOPADDSUB_CARRYSELECT": 2, "BOTOUTPUT_SELECT": 2,
           "BOTADDSUB_LOWERINPUT": 2, "BOTADDSUB_UPPERINPUT": 1, "BOTADDSUB_CARRYSELECT": 2,
           "MODE_8x8": 1, "A_SIGNED": 1, "B_SIGNED": 1}

#: A yosys blackbox for nextpnr-ice40's packed DSP cell, whose bus pins are single bits named
#: ``A_0`` ... (read it before a netlist that uses :attr:`MultiplierKind.ICESTORM_DSP`).
ICESTORM_DSP_BLACKBOX = (
    "(* blackbox *)\nmodule ICESTORM_DSP(\n"
    + ",\n".join(
        [f"  input {n}" for n in _SCALAR_IN]
        + [f"  input {b}_{k}" for b, w in _BUSES.items() if b != "O" for k in range(w)]
        + [f"  output O_{k}" for k in range(32)] + ["  output CO", "  output ACCUMCO",
                                                   "  output SIGNEXTOUT"])
    + "\n);\n"
    + "".join(f"  parameter [{w - 1}:0] {n} = 0;\n" for n, w in _PARAMS.items())
    + "endmodule\n")


class DualMul8(wiring.Component):
    """``p_lo = a_lo·b_lo`` and ``p_hi = a_hi·b_hi`` (signed 8×8 -> 16 bits), exact.

    Attributes
    ----------
    a_lo, a_hi, b_lo, b_hi : In(signed(8))
    ce : In(1)
        Clock enable of both register stages; while low, the products hold.
    p_lo, p_hi : Out(signed(16))

    Latency 2: operands are registered at the edge that ends a cycle with ``ce`` high, and
    their products at the next such edge (the SB_MAC16's input registers A/B and its 8×8
    product registers). A new pair of operands every cycle.

    ``impl`` (:class:`~vitgates.hw.detector_profile.MultiplierKind`, or its value):
    ``GENERIC`` (Amaranth ``*``; for simulation and the ECP5),
    ``SB_MAC16`` (an iCE40 SB_MAC16 instance; checked against yosys's own model of the
    cell in ``tests/test_detector_cocotb.py``) or ``ICESTORM_DSP`` (the same cell and
    configuration under nextpnr-ice40's packed name, for synthesis: ``synth_ice40 -dsp``
    rewrites every SB_MAC16 it meets into its own 16×16 configuration, discarding the 8×8
    mode, its registers and its clock, so the cell has to pass yosys as a blackbox,
    :data:`ICESTORM_DSP_BLACKBOX`; nextpnr places it as it would a packed SB_MAC16).
    """

    a_lo: In(signed(8))
    a_hi: In(signed(8))
    b_lo: In(signed(8))
    b_hi: In(signed(8))
    ce: In(1)
    p_lo: Out(signed(16))
    p_hi: Out(signed(16))

    def __init__(self, impl: MultiplierKind = MultiplierKind.GENERIC):
        self.impl = MultiplierKind.parse(impl, "DualMul8 impl")
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        if self.impl is MultiplierKind.GENERIC:
            regs = {n: Signal(signed(8), name=f"r_{n}") for n in ("a_lo", "a_hi", "b_lo", "b_hi")}
            with m.If(self.ce):
                m.d.sync += [r.eq(getattr(self, n)) for n, r in regs.items()]
                m.d.sync += [
                    self.p_lo.eq(regs["a_lo"] * regs["b_lo"]),
                    self.p_hi.eq(regs["a_hi"] * regs["b_hi"]),
                ]
            return m

        o = Signal(32)
        params = {"NEG_TRIGGER": 0, "C_REG": 0, "A_REG": 1, "B_REG": 1, "D_REG": 0,
                  "TOP_8x8_MULT_REG": 1, "BOT_8x8_MULT_REG": 1, "PIPELINE_16x16_MULT_REG1": 0,
                  "PIPELINE_16x16_MULT_REG2": 0,
                  # the registered 8×8 products of the high and of the low bytes
                  "TOPOUTPUT_SELECT": 2, "TOPADDSUB_LOWERINPUT": 0, "TOPADDSUB_UPPERINPUT": 0,
                  "TOPADDSUB_CARRYSELECT": 0, "BOTOUTPUT_SELECT": 2, "BOTADDSUB_LOWERINPUT": 0,
                  "BOTADDSUB_UPPERINPUT": 0, "BOTADDSUB_CARRYSELECT": 0, "MODE_8x8": 1,
                  "A_SIGNED": 1, "B_SIGNED": 1}
        ports = {"CLK": ClockSignal(), "CE": self.ce, "A": Cat(self.a_lo, self.a_hi),
                 "B": Cat(self.b_lo, self.b_hi), "C": Const(0, 16), "D": Const(0, 16)}
        ports.update({n: Const(0, 1) for n in _SCALAR_IN if n not in ports})
        kw = {f"p_{n}": Const(v, _PARAMS[n]) for n, v in params.items()}
        if self.impl is MultiplierKind.SB_MAC16:
            kw.update({f"i_{n}": v for n, v in ports.items()})
            kw["o_O"] = o
            m.submodules.mac = Instance("SB_MAC16", **kw)
        else:
            for n, v in ports.items():
                if n in _BUSES:
                    kw.update({f"i_{n}_{k}": v[k] for k in range(_BUSES[n])})
                else:
                    kw[f"i_{n}"] = v
            kw.update({f"o_O_{k}": o[k] for k in range(32)})
            m.submodules.mac = Instance("ICESTORM_DSP", **kw)
        m.d.comb += [self.p_lo.eq(o[:16]), self.p_hi.eq(o[16:])]
        return m
