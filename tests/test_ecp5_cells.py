"""Our ECP5 cell models (sim/models/ecp5/), each on its own against its Python reference.

The DP16KD bench holds one block RAM per configuration our netlists use (yosys's
synth_ecp5 of the detector and the board: 36 bits on both ports, the pseudo dual port of
the FIFOs; 9 bits written and read on port A beside an 18-bit port B; 9 and 9 bits
read-before-write) and one more (18/9 bits, write-through, synchronous reset, chip
selects), all driven by the same random reads, writes, enables, resets and chip selects,
with random INITVAL contents; the MULT18X18D bench multiplies the extreme operands in every
signedness and random ones. Each bench runs on Verilator and on Icarus where installed. A
parameter value that the models do not cover stops the simulation with one line that
names it.
"""

import shutil
import subprocess

import numpy as np
import pytest

from vitgates.sim.ecp5_cells import DP16KDConfig, bench_verilog, dp16kd_params
from vitgates.sim.netlist import MODELS
from vitgates.sim.runner import available_simulators, build_dir, run_cocotb
from vitgates.toolchain import tool_env

pytestmark = pytest.mark.cocotb

SIMS = available_simulators()
ECP5_MODELS = sorted((MODELS / "ecp5").glob("*.v"))

#: the configurations of the DP16KD bench, by instance label
DP_CONFIGS = {
    "pdp36": dict(width_a=36, width_b=36, resetmode="ASYNC"),
    "sp9": dict(width_a=9, width_b=18, writemode_a="NORMAL", writemode_b="READBEFOREWRITE",
                resetmode="ASYNC"),
    "dp9rbw": dict(width_a=9, width_b=9, writemode_a="READBEFOREWRITE",
                   writemode_b="READBEFOREWRITE", resetmode="ASYNC"),
    "dp18wt": dict(width_a=18, width_b=9, writemode_a="WRITETHROUGH", writemode_b="NORMAL",
                   resetmode="SYNC", csdecode_a=5, csdecode_b=2),
}


def _dp_bench(rng):
    configs, params = {}, {}
    for label, cfg in DP_CONFIGS.items():
        init = [int(v) for v in rng.integers(0, 1 << 18, 1024)]
        configs[label] = {**cfg, "init": init}
        params[label] = dp16kd_params(DP16KDConfig(**cfg, init=tuple(init)), pad=rng)
    return configs, params


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_dp16kd_model(simulator):
    if simulator not in SIMS:
        pytest.skip(f"{simulator} is not installed")
    configs, params = _dp_bench(np.random.default_rng(21))
    d = build_dir("ecp5-dp16kd", simulator)
    top = d / "dp_bench.v"
    top.write_text(bench_verilog("dp_bench", params))
    run_cocotb(name="ecp5-dp16kd", sources=[top, *ECP5_MODELS], toplevel="dp_bench",
               test_module="vitgates.sim.tb_ecp5_cells", testcase="dp16kd",
               simulator=simulator,
               args={"dp16kd": configs, "cycles": 3000, "seed": 22})


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_mult18x18d_model(simulator):
    if simulator not in SIMS:
        pytest.skip(f"{simulator} is not installed")
    d = build_dir("ecp5-mult18x18d", simulator)
    top = d / "mult_bench.v"
    top.write_text(bench_verilog("mult_bench", {}, mult={}))
    run_cocotb(name="ecp5-mult18x18d", sources=[top, *ECP5_MODELS], toplevel="mult_bench",
               test_module="vitgates.sim.tb_ecp5_cells", testcase="mult18x18d",
               simulator=simulator, args={"mult_cases": 3000, "seed": 23})


def _simulate(simulator: str, top, name: str, d) -> tuple[int, str]:
    """Build and run ``top`` (module ``name``) with the models; its exit status and
    output."""
    env = tool_env()
    if simulator == "icarus":
        out = d / "sim.vvp"
        subprocess.run([shutil.which("iverilog", path=env["PATH"]), "-g2012", "-s", name,
                        "-o", str(out), str(top), *map(str, ECP5_MODELS)], check=True,
                       env=env, capture_output=True)
        cmd = [shutil.which("vvp", path=env["PATH"]), "-n", str(out)]
    else:
        env["MAKEFLAGS"] = " ".join(filter(None, [env.get("MAKEFLAGS", ""),
                                                  "CFG_CXXFLAGS_PCH_I=-include"]))
        subprocess.run(["verilator", "--binary", "--no-timing", "-Wno-fatal", "-Wno-lint",
                        "-Wno-style", "--top-module", name, "-Mdir", str(d / "obj"), str(top),
                        *map(str, ECP5_MODELS)], check=True, env=env, capture_output=True)
        cmd = [str(d / "obj" / f"V{name}")]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    return run.returncode, run.stdout + run.stderr


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
@pytest.mark.parametrize(("cell", "param", "value", "line"), [
    ("DP16KD", "REGMODE_B", '"OUTREG"', "REGMODE_A=NOREG REGMODE_B=OUTREG is not modelled"),
    ("DP16KD", "DATA_WIDTH_A", "4", "DATA_WIDTH_A=4 DATA_WIDTH_B=18 is not modelled"),
    ("MULT18X18D", "REG_OUTPUT_CLK", '"CLK0"', "REG_OUTPUT_CLK=CLK0 is not modelled"),
])
def test_unmodelled_parameter_is_one_line(simulator, cell, param, value, line):
    """A parameter value outside what the models cover stops the simulation at time 0 with
    one line naming the cell instance, the parameter and the values that are modelled."""
    if simulator not in SIMS:
        pytest.skip(f"{simulator} is not installed")
    d = build_dir(f"ecp5-refuse-{cell}-{param}".lower(), simulator)
    top = d / "refuse.v"
    top.write_text(f"module refuse;\n  {cell} #(.{param}({value})) dut ();\nendmodule\n")
    rc, out = _simulate(simulator, top, "refuse", d)
    hits = [ln for ln in out.splitlines() if "is not modelled" in ln]
    assert rc != 0 and len(hits) == 1, out
    assert line in hits[0] and "refuse.dut" in hits[0], out
