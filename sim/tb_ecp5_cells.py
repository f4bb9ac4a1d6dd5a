"""cocotb benches of our ECP5 cell models against their Python references.

Run through :func:`vitgates.sim.runner.run_cocotb` (see ``tests/test_ecp5_cells.py``) on a
bench top written by :func:`vitgates.sim.ecp5_cells.bench_verilog`, with arguments:

- ``dp16kd``: ``{label: DP16KDConfig fields}``, one DP16KD instance per label, all driven
  by the same random inputs; ``cycles``: clock cycles of random reads and writes after a
  pass that reads every row (the INITVAL contents);
- ``mult_cases``: random products of the MULT18X18D (after the extreme operands);
- ``seed``.

Tests: ``dp16kd`` and ``mult18x18d``. Every output is compared with the reference after
every edge and, for an asynchronous reset, between edges; a bit the reference leaves
undefined (a read of bits the other port writes at the same edge) must be X on Icarus and
may be anything on Verilator (two-state).
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer

from .ecp5_cells import DP16KDConfig, DP16KDRef, ref_mult18x18d
from .runner import tb_args


def _check(what: str, got, want: int, undef: int, width: int, four_state: bool) -> None:
    bits = str(got).lower()[-width:].rjust(width, "0")
    for i in range(width):
        g = bits[width - 1 - i]
        if undef >> i & 1:
            if four_state and g != "x":
                raise AssertionError(f"{what}: bit {i} should be X (a read of bits the other "
                                     f"port writes), got {g} in {bits}")
            continue
        if g != str(want >> i & 1):
            raise AssertionError(f"{what}: got {bits}, want {want:0{width}b} "
                                 f"(undefined {undef:0{width}b})")


@cocotb.test()
async def dp16kd(dut):
    a = tb_args()
    rng = np.random.default_rng(a["seed"])
    four_state = cocotb.SIM_NAME.lower().startswith("icarus")
    refs = {label: DP16KDRef(DP16KDConfig(**{**cfg, "init": tuple(cfg["init"])}))
            for label, cfg in a["dp16kd"].items()}
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    def compare(when):
        for label, ref in refs.items():
            doa, dob, ua, ub = ref.outputs()
            _check(f"{label} DOA {when}", getattr(dut, f"{label}_doa").value, doa, ua, 18,
                   four_state)
            _check(f"{label} DOB {when}", getattr(dut, f"{label}_dob").value, dob, ub, 18,
                   four_state)

    def inputs(n):
        if n < 1024:  # read every row on port B, random rows on port A, no writes
            s = {"adb": (n << 4) | int(rng.integers(0, 16)), "ceb": 1, "web": 0,
                 "ada": int(rng.integers(0, 1 << 14)), "cea": 1, "wea": 0}
            s.update(dia=0, dib=0, csa=0, csb=0, rsta=0, rstb=0)
            return s
        s = {}
        for x in "ab":
            # a few rows only, so that reads meet writes of the same row often
            row = int(rng.integers(0, 4))
            s[f"ad{x}"] = (row << 5) | int(rng.integers(0, 32))
            s[f"di{x}"] = int(rng.integers(0, 1 << 18))
            s[f"ce{x}"] = int(rng.random() < 0.85)
            s[f"we{x}"] = int(rng.random() < 0.5)
            s[f"cs{x}"] = 0 if rng.random() < 0.7 else int(rng.integers(0, 8))
            s[f"rst{x}"] = int(rng.random() < 0.04)
        if s["ada"] >> 5 == s["adb"] >> 5:
            s["web"] = 0  # two writes of one row at one edge: the guide forbids them
        return s

    for n in range(1024 + a["cycles"]):
        await FallingEdge(dut.clk)
        compare(f"after edge {n}")
        s = inputs(n)
        for k, v in s.items():
            getattr(dut, k).value = v
        await Timer(1, unit="ns")
        for ref in refs.values():
            ref.async_reset(s)
        compare(f"between edges {n}, inputs {s}")
        await RisingEdge(dut.clk)
        for ref in refs.values():
            ref.edge(s)
    await FallingEdge(dut.clk)
    compare("at the end")


@cocotb.test()
async def mult18x18d(dut):
    a = tb_args()
    rng = np.random.default_rng(a["seed"])
    edges = [0, 1, 0x1FFFF, 0x20000, 0x3FFFF, 0x20001, 0x00FF, 0x3FF80]
    cases = [(x, y, sa, sb, 0, 0) for x in edges for y in edges for sa in (0, 1)
             for sb in (0, 1)]
    for _ in range(a["mult_cases"]):
        cases.append((int(rng.integers(0, 1 << 18)), int(rng.integers(0, 1 << 18)),
                      int(rng.integers(0, 2)), int(rng.integers(0, 2)),
                      int(rng.random() < 0.2), int(rng.random() < 0.2)))
    for n, (x, y, sa, sb, src_a, src_b) in enumerate(cases):
        c, sria, srib = (int(rng.integers(0, 1 << 18)) for _ in range(3))
        opa, opb = (sria if src_a else x), (srib if src_b else y)
        for k, v in dict(a=x, b=y, c=c, signeda=sa, signedb=sb, sourcea=src_a,
                         sourceb=src_b, sria=sria, srib=srib).items():
            getattr(dut, k).value = v
        await Timer(1, unit="ns")
        what = f"case {n} (A={x:#x} B={y:#x} SIGNEDA={sa} SIGNEDB={sb} SOURCEA={src_a} " \
               f"SOURCEB={src_b})"
        _check(f"P {what}", dut.p.value, ref_mult18x18d(opa, opb, sa, sb), 0, 36, True)
        _check(f"SIGNEDP {what}", dut.signedp.value, sa | sb, 0, 1, True)
        for port, want in (("sroa", opa), ("srob", opb), ("roa", opa), ("rob", opb),
                           ("roc", c)):
            _check(f"{port.upper()} {what}", getattr(dut, port).value, want, 0, 18, True)
