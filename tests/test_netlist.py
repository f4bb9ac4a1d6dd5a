"""Post-synthesis netlists: the cell models are found, cells without a model are refused,
and the synthesis commands are those of ``vitgates synth``."""

import pytest
from amaranth import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from vitgates.fpga.boards import get_board
from vitgates.fpga.synth import _yosys_script
from vitgates.sim.netlist import (
    SYNTH_COMMANDS,
    NetlistError,
    cell_models,
    icarus_models,
    synthesise_netlist,
    yosys_share,
)
from vitgates.sim.runner import available_simulators, write_verilog


class _Ram(wiring.Component):
    """A block-RAM-sized memory: ECP5 maps it to DP16KD, which yosys ships as a black box
    (our model simulates it)."""

    addr: In(10)
    data: Out(16)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=16, depth=1024, init=range(1024))
        rd = mem.read_port()
        wr = mem.write_port()
        we = Signal()
        m.d.comb += [rd.addr.eq(self.addr), self.data.eq(rd.data), wr.addr.eq(self.addr),
                     wr.data.eq(self.addr), wr.en.eq(we)]
        m.d.sync += we.eq(~we)
        return m


def test_models_are_shipped():
    share = yosys_share()
    assert (share / "simlib.v").exists()
    for fam in ("ice40", "ecp5"):
        models, incs, _ = cell_models(fam)
        assert models and all(m.exists() for m in models) and incs
    assert cell_models("generic") == ([], [], {})


def test_same_synthesis_as_the_flow():
    assert SYNTH_COMMANDS["ice40"] in _yosys_script(get_board("icebreaker"), "x")
    assert SYNTH_COMMANDS["ecp5"] in _yosys_script(get_board("ulx3s-85f"), "x")


def test_icarus_models_expand_includes_once(tmp_path):
    models, incs, _ = cell_models("ecp5")
    out, *ours = icarus_models(models, incs, tmp_path)
    text = out.read_text()
    assert "`include" not in text
    assert text.count("module TRELLIS_FF") == 1
    assert "$error(" not in text
    assert text.count("module LUT4") == 1
    # yosys's DP16KD black box gives way to our model; our models keep their $fatal lines
    assert "module DP16KD" not in text
    assert {m.name for m in ours} == {"dp16kd.v", "mult18x18d.v"}
    assert all("$fatal(1," in m.read_text() for m in ours)


def test_blackbox_cells_are_refused(tmp_path, monkeypatch):
    """A netlist cell that the models leave a black box is refused with one line: yosys's
    ECP5 models alone have DP16KD as a black box; with ours the netlist is accepted."""
    import vitgates.sim.netlist as netlist

    v = write_verilog(_Ram(), tmp_path / "ram.v")
    net = synthesise_netlist(v, "ecp5", tmp_path / "ecp5")
    assert net.cells.get("DP16KD", 0) >= 1
    share = yosys_share() / "lattice"
    monkeypatch.setattr(netlist, "cell_models",
                        lambda fam: ([share / "cells_sim_ecp5.v"], [share], {}))
    with pytest.raises(NetlistError, match="DP16KD"):
        synthesise_netlist(v, "ecp5", tmp_path / "ecp5")
    monkeypatch.undo()
    # the iCE40 block RAM has a model: that netlist is fine
    net = synthesise_netlist(v, "ice40", tmp_path / "ice40")
    assert net.cells.get("SB_RAM40_4K", 0) >= 1
    # and it is cached: the same Verilog is not synthesised twice
    assert synthesise_netlist(v, "ice40", tmp_path / "ice40").seconds == 0.0


def test_generic_netlist_keeps_memories(tmp_path):
    """The generic netlist is yosys gate cells, except that a memory stays one array."""
    v = write_verilog(_Ram(), tmp_path / "ram.v")
    net = synthesise_netlist(v, "generic", tmp_path / "generic")
    assert net.cells.pop("$mem_v2") == 1
    assert net.cells and all(c.startswith("$_") for c in net.cells)
    assert "reg [15:0] " in net.path.read_text() and not net.models


@pytest.mark.parametrize(("family", "simulator"), [
    ("generic-dsp", "verilator"),
    pytest.param("ecp5", "verilator", marks=pytest.mark.slow),
    pytest.param("ecp5", "icarus", marks=pytest.mark.slow)])
def test_detector_netlist(tmp_path, family, simulator):
    """A small detector (12×8 grid, 32 channels, 2 classes + 4 box rows, 4 pixels × 3 rows ×
    8 lanes = 96 multipliers, a FIFO before the bands) built from its netlist on Verilator
    emits exactly the golden INT8 records for random frames (SYNTHETIC), under random
    stalls.

    The generic-dsp netlist keeps each signed 8×8 multiplier as one ``$mul`` cell and each
    register as one multi-bit flip-flop cell, everything else yosys gates. The ECP5 netlist
    (the one that goes on the ULX3S) has each multiplier as a MULT18X18D and the FIFO in
    DP16KD block RAM, simulated with our models of them (tests/test_ecp5_cells.py); its
    Verilator build takes minutes, and Icarus a minute a frame (``pytest -m slow``; Icarus
    runs the first frame)."""
    import numpy as np

    from vitgates.golden.detector import Folding, random_head, ref_detect
    from vitgates.regress.detector import detector_stimulus
    from vitgates.sim.harness import Harness

    rng = np.random.default_rng(5)
    frames = [rng.integers(-128, 128, (12, 8, 32)).astype(np.int8) for _ in range(3)]
    frames[0][:4] = 127  # saturated corner: the extreme products
    frames[1][4:8] = -128
    h8 = random_head(32, 2, 4, seed=5, grids=frames, fire=0.2)
    fold = Folding(pixels=4, rows=3, lanes=8)
    stim = detector_stimulus(h8, (12, 8), fold)
    assert stim.det.fifo_depth > 0
    v = write_verilog(stim.det, tmp_path / "det.v")
    if simulator not in available_simulators():
        pytest.skip(f"{simulator} is not installed")
    net = synthesise_netlist(v, family, tmp_path / family)
    if family == "generic-dsp":
        assert net.cells.pop("$mul") == fold.macs_per_cycle
        flops = {c: n for c, n in net.cells.items() if "dff" in c}
        assert flops and all(not c.startswith("$_") for c in flops)  # words, not bits
        assert all(c.startswith("$_") or c in flops or c == "$mem_v2" for c in net.cells)
    else:
        assert net.cells["MULT18X18D"] == fold.macs_per_cycle and net.cells["DP16KD"] >= 1
        assert not any(c.startswith("$") for c in net.cells)
    name = "netlist-dsp-detector" if family == "generic-dsp" else f"netlist-{family}-detector"
    if simulator == "icarus":
        frames = frames[:1]
    h = Harness(name, net.sources_for(simulator), stim.streams, stim.output,
                end_bit=stim.end_bit, opt_fast="-O1", simulator=simulator,
                include_dirs=net.include_dirs, defines=net.defines_for(simulator))
    h.build()
    r = h.run(stim.items(frames), frames=len(frames), pause_in=0.2, pause_out=0.3, seed=2)
    got = stim.records(r.outputs)
    want = [ref_detect(q, h8) for q in frames]
    assert sum(len(w) for w in want) > 20 * len(frames) // 3
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.tobytes() == w.tobytes()
