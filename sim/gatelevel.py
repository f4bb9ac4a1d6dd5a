"""Simulation levels of one design: its RTL and its synthesised netlists, on each simulator.

A :class:`SimLevel` names one way of running the hardware: ``rtl`` (the Verilog Amaranth
writes) or ``gate`` with a netlist family (``ice40``, ``ecp5``, ``generic``; see
:mod:`vitgates.sim.netlist`), on ``verilator`` or ``icarus``. :func:`prepare_harness`
writes the design's Verilog, synthesises the netlist a level needs and returns a built
:class:`~vitgates.sim.harness.Harness`, so a regression runs every level through the same
stimulus and the same checks and compares what comes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import VitgatesError
from .harness import Harness, Stream
from .netlist import FAMILIES, Netlist, synthesise_netlist
from .runner import SIMULATORS, available_simulators, build_dir, write_verilog

__all__ = ["SimLevel", "sim_levels", "design_verilog", "design_netlist", "prepare_harness"]


@dataclass(frozen=True)
class SimLevel:
    """``level`` "rtl" or "gate"; ``netlist`` a family for gate level (None for rtl);
    ``simulator`` "verilator" or "icarus"."""

    level: str
    netlist: str | None
    simulator: str

    @property
    def label(self) -> str:
        where = "RTL" if self.level == "rtl" else f"gate {self.netlist}"
        return f"{where} ({self.simulator})"

    @property
    def key(self) -> str:
        return "-".join(p for p in (self.level, self.netlist, self.simulator) if p)


def sim_levels(levels: Sequence[str], netlists: Sequence[str],
               simulators: Sequence[str]) -> list[SimLevel]:
    """Every requested combination, RTL first, in a stable order; simulators that are not
    installed are left out (Verilator always is)."""
    for s in simulators:
        if s not in SIMULATORS:
            raise VitgatesError(f"unknown simulator {s!r} (known: {', '.join(SIMULATORS)})")
    for f in netlists:
        if f not in FAMILIES:
            raise VitgatesError(f"unknown netlist {f!r} (known: {', '.join(FAMILIES)})")
    have = set(available_simulators())
    sims = [s for s in SIMULATORS if s in simulators and s in have]
    out = []
    for sim in sims:
        if "rtl" in levels:
            out.append(SimLevel("rtl", None, sim))
        if "gate" in levels:
            out += [SimLevel("gate", f, sim) for f in FAMILIES if f in netlists]
    return out


def design_verilog(elaboratable, name: str) -> Path:
    """The design's RTL as ``build/sim/designs/<name>/top.v`` (module ``top``)."""
    d = build_dir("designs", name)
    return write_verilog(elaboratable, d / "top.v")


def design_netlist(verilog: Path, family: str) -> Netlist:
    """The ``family`` netlist of the RTL at ``verilog`` (cached beside it)."""
    return synthesise_netlist(verilog, family, Path(verilog).parent / f"netlist-{family}")


def prepare_harness(level: SimLevel, verilog: Path, name: str, inputs: Sequence[Stream],
                    output: Stream, *, statics: dict | None = None,
                    **harness_options) -> tuple[Harness, Netlist | None]:
    """Build the batch harness of ``level`` for the design whose RTL is ``verilog``.

    Returns ``(harness, netlist)`` (``netlist`` is None at RTL level).
    """
    netlist = None
    if level.level == "rtl":
        sources, include_dirs, defines = [verilog], [], {}
    else:
        netlist = design_netlist(verilog, level.netlist)
        sources = netlist.sources_for(level.simulator)
        include_dirs = netlist.include_dirs
        defines = netlist.defines_for(level.simulator)
    h = Harness(f"{name}-{level.level}" + (f"-{level.netlist}" if level.netlist else ""),
                sources, inputs, output, simulator=level.simulator, statics=statics,
                include_dirs=include_dirs, defines=defines, **harness_options)
    h.build()
    return h, netlist
