"""Behavioural references of the ECP5 primitives our models simulate (``sim/models/ecp5/``).

Plain Python, from the same documented behaviour as the Verilog models and written apart
from them, so that a bench (:mod:`vitgates.sim.tb_ecp5_cells`) can drive both with random
inputs and compare every output:

- :func:`ref_mult18x18d`: the product of a ``MULT18X18D`` with every register bypassed;
- :class:`DP16KDRef`: a ``DP16KD`` block RAM, one clock shared by both ports, stepped one
  rising edge at a time.

:func:`dp16kd_params` and :func:`bench_verilog` write the Verilog that instantiates the cells
with a set of parameters for a bench (ports as vectors, one instance per configuration).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DP16KDConfig", "DP16KDRef", "bench_verilog", "dp16kd_params", "ref_mult18x18d"]

_M18 = (1 << 18) - 1
_M36 = (1 << 36) - 1


def ref_mult18x18d(a: int, b: int, signed_a: bool, signed_b: bool) -> int:
    """``P`` (36 bits, as an unsigned pattern) of ``a × b``, each 18-bit operand read as
    two's complement when its ``SIGNED`` input is high."""
    def value(x, signed):
        x &= _M18
        return x - (1 << 18) if signed and x >> 17 else x

    return (value(a, signed_a) * value(b, signed_b)) & _M36


@dataclass(frozen=True)
class DP16KDConfig:
    """The ``DP16KD`` parameters a bench instantiates; ``init``: 1024 rows of 18 bits."""

    width_a: int = 18
    width_b: int = 18
    writemode_a: str = "NORMAL"
    writemode_b: str = "NORMAL"
    resetmode: str = "SYNC"
    csdecode_a: int = 0
    csdecode_b: int = 0
    init: tuple = field(default_factory=tuple)

    @property
    def pdp(self) -> bool:
        return self.width_a == 36


def dp16kd_params(cfg: DP16KDConfig, pad: np.random.Generator | None = None) -> dict:
    """Verilog parameter values of ``cfg``; ``pad`` fills the two unused bits of every
    20-bit INITVAL slot with random bits (which the cell must ignore)."""
    p = {"DATA_WIDTH_A": str(cfg.width_a), "DATA_WIDTH_B": str(cfg.width_b),
         "REGMODE_A": '"NOREG"', "REGMODE_B": '"NOREG"',
         "RESETMODE": f'"{cfg.resetmode}"', "ASYNC_RESET_RELEASE": f'"{cfg.resetmode}"',
         "CSDECODE_A": f'"0b{cfg.csdecode_a:03b}"', "CSDECODE_B": f'"0b{cfg.csdecode_b:03b}"',
         "WRITEMODE_A": f'"{cfg.writemode_a}"', "WRITEMODE_B": f'"{cfg.writemode_b}"',
         "GSR": '"DISABLED"', "CLKAMUX": '"CLKA"', "CLKBMUX": '"CLKB"'}
    rows = list(cfg.init) or [0] * 1024
    for k in range(64):
        v = 0
        for s in range(16):
            junk = int(pad.integers(0, 4)) if pad is not None else 0
            v |= ((rows[16 * k + s] & _M18) | junk << 18) << (20 * s)
        p[f"INITVAL_{k:02X}"] = f"320'h{v:080x}"
    return p


class DP16KDRef:
    """A ``DP16KD`` on one clock: :meth:`edge` applies one rising edge, :meth:`outputs`
    gives ``(doa, dob, undefined_a, undefined_b)`` (the masks of the bits a read left
    undefined: those the other port wrote at the same edge)."""

    def __init__(self, cfg: DP16KDConfig):
        self.cfg = cfg
        self.mem = list(cfg.init) or [0] * 1024
        self.out = {"a": 0, "b": 0, "lo": 0}
        self.undef = {"a": 0, "b": 0, "lo": 0}

    @staticmethod
    def _row(width, ad):
        return (ad >> 5) << 1 if width == 36 else ad >> 4

    @staticmethod
    def _mask(width, ad):
        if width == 9:
            return 0x3FE00 if ad >> 3 & 1 else 0x1FF
        return (0x1FF if ad & 1 else 0) | (0x3FE00 if ad >> 1 & 1 else 0)

    @staticmethod
    def _place(width, ad, d):
        return ((d & 0x1FF) << (9 if ad >> 3 & 1 else 0)) if width == 9 else d & _M18

    @staticmethod
    def _take(width, ad, row):
        return (row >> (9 if ad >> 3 & 1 else 0)) & 0x1FF if width == 9 else row

    def _writes(self, port, s):
        """``{row: (mask, data)}`` that ``port`` writes at this edge."""
        c = self.cfg
        width = c.width_a if port == "a" else c.width_b
        cs = c.csdecode_a if port == "a" else c.csdecode_b
        if s[f"cs{port}"] != cs or not s[f"ce{port}"] or not s[f"we{port}"]:
            return {}
        if port == "b" and c.pdp:
            return {}
        ad = s[f"ad{port}"]
        row = self._row(width, ad)
        out = {row: (self._mask(width, ad), self._place(width, ad, s[f"di{port}"]))}
        if width == 36:
            hi = (0x1FF if ad >> 2 & 1 else 0) | (0x3FE00 if ad >> 3 & 1 else 0)
            out[row | 1] = (hi, s["dib"] & _M18)
        return out

    def async_reset(self, s):
        """The outputs an asynchronous reset clears between edges."""
        if self.cfg.resetmode == "ASYNC":
            for port, keys in (("a", ("a",)), ("b", ("b", "lo"))):
                if s[f"rst{port}"]:
                    for k in keys:
                        self.out[k], self.undef[k] = 0, 0

    def edge(self, s: dict) -> None:
        """One rising edge with the inputs ``s``: ``ad{a,b}``, ``di{a,b}``, ``ce``, ``we``,
        ``cs``, ``rst`` of each port."""
        c = self.cfg
        wr = {"a": self._writes("a", s), "b": self._writes("b", s)}
        old = list(self.mem)
        for port in ("a", "b"):
            width = c.width_a if port == "a" else c.width_b
            cs = c.csdecode_a if port == "a" else c.csdecode_b
            other = wr["b" if port == "a" else "a"]
            if s[f"rst{port}"]:  # sync or async, the output is 0 after the edge
                for k in (("a",) if port == "a" else ("b", "lo")):
                    self.out[k], self.undef[k] = 0, 0
                continue
            if s[f"cs{port}"] != cs or not s[f"ce{port}"]:
                continue
            ad = s[f"ad{port}"]
            row = self._row(width, ad)
            if port == "b" and c.pdp:
                self.out["lo"], self.undef["lo"] = old[row], other.get(row, (0, 0))[0]
                self.out["b"], self.undef["b"] = old[row | 1], other.get(row | 1, (0, 0))[0]
                continue
            if port == "a" and c.pdp:
                continue  # the write port of the pseudo dual port has no output
            mode = c.writemode_a if port == "a" else c.writemode_b
            if s[f"we{port}"]:
                mask, data = wr[port][row]
                new = (old[row] & ~mask) | (data & mask)
                if mode == "WRITETHROUGH":
                    self.out[port], self.undef[port] = self._take(width, ad, new), 0
                elif mode == "READBEFOREWRITE":
                    self.out[port], self.undef[port] = self._take(width, ad, old[row]), 0
            else:
                self.out[port] = self._take(width, ad, old[row])
                self.undef[port] = self._take(width, ad, other.get(row, (0, 0))[0])
        for port in ("a", "b"):
            for row, (mask, data) in wr[port].items():
                self.mem[row] = (self.mem[row] & ~mask) | (data & mask)

    def outputs(self) -> tuple[int, int, int, int]:
        if self.cfg.pdp:
            return self.out["lo"], self.out["b"], self.undef["lo"], self.undef["b"]
        return self.out["a"], self.out["b"], self.undef["a"], self.undef["b"]


def bench_verilog(name: str, dp: dict, mult: dict | None = None) -> str:
    """A bench top ``name``: clock ``clk``; DP16KD ports as vectors (``ada``, ``dia``,
    ``cea``, ``wea``, ``csa``, ``rsta``, the same for ``b``) shared by one instance per
    entry of ``dp`` (``{label: parameters}``), whose outputs are ``<label>_doa`` and
    ``<label>_dob``; with ``mult`` (parameters), a MULT18X18D on ``a``, ``b``, ``c``,
    ``signeda``, ``signedb``, ``sourcea``, ``sourceb``, ``sria``, ``srib``, with outputs
    ``p``, ``signedp``, ``sroa``, ``srob``, ``roa``, ``rob``, ``roc``."""
    lines = [f"module {name} (", "    input clk,"]
    ports = []
    if dp:
        for x in "ab":
            ports += [f"input [13:0] ad{x}", f"input [17:0] di{x}", f"input ce{x}",
                      f"input we{x}", f"input [2:0] cs{x}", f"input rst{x}"]
        for label in dp:
            ports += [f"output [17:0] {label}_doa", f"output [17:0] {label}_dob"]
    if mult is not None:
        ports += ["input [17:0] a", "input [17:0] b", "input [17:0] c", "input signeda",
                  "input signedb", "input sourcea", "input sourceb", "input [17:0] sria",
                  "input [17:0] srib", "output [35:0] p", "output signedp",
                  "output [17:0] sroa", "output [17:0] srob", "output [17:0] roa",
                  "output [17:0] rob", "output [17:0] roc"]
    lines.append(",\n".join(f"    {p}" for p in ports))
    lines.append(");")

    def inst(cell, label, params, conns):
        ps = ",\n".join(f"        .{k}({v})" for k, v in params.items())
        cs = ",\n".join(f"        .{k}({v})" for k, v in conns)
        return f"    {cell} #(\n{ps}\n    ) {label} (\n{cs}\n    );"

    for label, params in dp.items():
        conns = []
        for x in "ab":
            X = x.upper()
            conns += [(f"DI{X}{i}", f"di{x}[{i}]") for i in range(18)]
            conns += [(f"AD{X}{i}", f"ad{x}[{i}]") for i in range(14)]
            conns += [(f"CE{X}", f"ce{x}"), (f"OCE{X}", "1'b1"), (f"CLK{X}", "clk"),
                      (f"WE{X}", f"we{x}"), (f"RST{X}", f"rst{x}")]
            conns += [(f"CS{X}{i}", f"cs{x}[{i}]") for i in range(3)]
            conns += [(f"DO{X}{i}", f"{label}_do{x}[{i}]") for i in range(18)]
        lines.append(inst("DP16KD", label, params, conns))
    if mult is not None:
        conns = []
        for v in ("a", "b", "c", "sria", "srib"):
            conns += [(f"{v.upper()}{i}", f"{v}[{i}]") for i in range(18)]
        conns += [("SIGNEDA", "signeda"), ("SIGNEDB", "signedb"), ("SOURCEA", "sourcea"),
                  ("SOURCEB", "sourceb"), ("SIGNEDP", "signedp")]
        conns += [(f"P{i}", f"p[{i}]") for i in range(36)]
        for v in ("sroa", "srob", "roa", "rob", "roc"):
            conns += [(f"{v.upper()}{i}", f"{v}[{i}]") for i in range(18)]
        lines.append(inst("MULT18X18D", "mult", mult, conns))
    lines.append("endmodule\n")
    return "\n".join(lines)
