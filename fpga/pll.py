"""PLLs of the board tops: divider search and the vendor primitive, iCE40 and ECP5.

- iCE40 (``SB_PLL40_PAD``): ``f_out = f_in · (DIVF + 1) / ((DIVR + 1) · 2**DIVQ)`` with the
  phase detector at 10..133 MHz and the VCO at 533..1066 MHz (iCE40 sysCLOCK PLL design and
  usage guide). The iCEBreaker's 12 MHz oscillator sits on the PLL's own input pad (pin 35),
  so the pad variant takes the pin directly.
- ECP5 (``EHXPLLL``): ``f_out = f_in / CLKI_DIV · CLKFB_DIV`` with feedback from CLKOP, the
  phase detector at 3.125..400 MHz and the VCO (``f_out · CLKOP_DIV``) at 400..800 MHz
  (ECP5 sysCLOCK PLL/DLL design and usage guide).

Both hold the ``sync`` domain in reset until the PLL reports lock (a
:class:`~amaranth.lib.cdc.ResetSynchronizer` releases it on a clock edge).
"""

from dataclasses import dataclass

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

__all__ = ["ICE40PLLParams", "ECP5PLLParams", "ice40_pll_params", "ecp5_pll_params",
           "BoardClock"]


@dataclass(frozen=True)
class ICE40PLLParams:
    divr: int
    divf: int
    divq: int
    filter_range: int
    f_in: float
    f_out: float


@dataclass(frozen=True)
class ECP5PLLParams:
    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_in: float
    f_out: float

    @property
    def clkop_cphase(self) -> int:
        return (self.clkop_div - 1) // 2


def ice40_pll_params(f_in: float, f_out: float) -> ICE40PLLParams:
    """The exact divider setting for ``f_out`` (Hz) from ``f_in``; ValueError if none."""
    best = None
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divq in range(1, 7):
            for divf in range(128):
                vco = pfd * (divf + 1)
                if not 533e6 <= vco <= 1066e6:
                    continue
                out = vco / (1 << divq)
                if abs(out - f_out) < 1 and best is None:
                    # the iCE40 loop filter setting for this phase-detector frequency
                    fr = next(k for k, top in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, 1e12),
                                                        start=1) if pfd < top)
                    best = ICE40PLLParams(divr, divf, divq, fr, f_in, out)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting gives {f_out / 1e6:g} MHz from "
                         f"{f_in / 1e6:g} MHz")
    return best


def ecp5_pll_params(f_in: float, f_out: float) -> ECP5PLLParams:
    """The exact divider setting for ``f_out`` (Hz) from ``f_in`` with the VCO nearest
    600 MHz; ValueError if none."""
    best = None
    for clki_div in range(1, 129):
        pfd = f_in / clki_div
        if not 3.125e6 <= pfd <= 400e6:
            continue
        for clkfb_div in range(1, 81):
            out = pfd * clkfb_div
            if abs(out - f_out) >= 1:
                continue
            for clkop_div in range(1, 129):
                vco = out * clkop_div
                if 400e6 <= vco <= 800e6:
                    p = ECP5PLLParams(clki_div, clkfb_div, clkop_div, f_in, out)
                    if best is None or abs(vco - 600e6) < abs(best.f_out * best.clkop_div
                                                              - 600e6):
                        best = p
    if best is None:
        raise ValueError(f"no ECP5 PLL setting gives {f_out / 1e6:g} MHz from "
                         f"{f_in / 1e6:g} MHz")
    return best


class BoardClock(Elaboratable):
    """The ``sync`` domain at ``f_out`` from the board oscillator pin ``pin`` (an io port
    requested with ``dir="-"``), through the family's PLL; reset until lock.

    ``locked`` is the PLL's lock output (for an LED).
    """

    def __init__(self, family: str, pin, f_in: float, f_out: float):
        if family == "ice40":
            self.params = ice40_pll_params(f_in, f_out)
        elif family == "ecp5":
            self.params = ecp5_pll_params(f_in, f_out)
        else:
            raise ValueError(f"unknown family {family!r}")
        self.family = family
        self.pin = pin
        self.locked = Signal()

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        clk = Signal()
        p = self.params
        if self.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=p.divr, p_DIVF=p.divf, p_DIVQ=p.divq, p_FILTER_RANGE=p.filter_range,
                i_PACKAGEPIN=self.pin.io,
                i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=clk, o_LOCK=self.locked,
            )
        else:
            m.submodules.clk_in = clk_in = io.Buffer("i", self.pin)
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{p.f_in / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{p.f_out / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_CLKI_DIV=p.clki_div, p_CLKFB_DIV=p.clkfb_div,
                p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p.clkop_div,
                p_CLKOP_CPHASE=p.clkop_cphase, p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP",
                i_CLKI=clk_in.i, i_CLKFB=clk, i_RST=0, i_STDBY=0,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=clk, o_LOCK=self.locked,
            )
        m.d.comb += ClockSignal("sync").eq(clk)
        m.submodules.reset = ResetSynchronizer(~self.locked, domain="sync")
        return m
