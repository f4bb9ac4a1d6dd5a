"""The person-classifier cocotb benches on post-synthesis netlists (gate level).

The same benches as tests/test_person_cocotb.py (``core``: 40 selected features per
transfer, ``unit``: 768 bytes per image; random stalls on both sides, the stream rules
checked, every decision compared with the golden INT8 model) run on the netlists yosys
writes for the iCE40 and the ECP5 (with the cell models yosys ships) and on its generic
gate netlist. CI runs each netlist family once on Icarus and the generic netlist on
Verilator; the whole matrix is ``pytest -m slow`` (the batch regression,
tests/test_regress.py, runs every netlist through Verilator on whole images).
"""

import numpy as np
import pytest

from vitgates.fpga.person_design import PERSON_PIPELINE, default_person_config
from vitgates.hw.person_classifier import FORMS, PersonClassifier
from vitgates.sim.gatelevel import design_netlist, design_verilog
from vitgates.sim.runner import available_simulators, build_dir, run_cocotb
from vitgates.sim.vectors import person_vectors, pooled_vectors

pytestmark = pytest.mark.cocotb

SIMS = available_simulators()
# CI: every netlist family once on Icarus (both forms between them) and the generic
# netlist on Verilator. The batch regression (tests/test_regress.py) runs every family
# through Verilator on whole images. A Verilator build of a vendor netlist for cocotb (every
# signal public) takes one to two minutes: the rest of the matrix is ``pytest -m slow``.
CORE_CASES = [("popcount", "ice40", "icarus"), ("sumdiff", "ecp5", "icarus"),
              ("popcount", "generic", "icarus"), ("sumdiff", "generic", "verilator")]
SLOW_CASES = [(form, family, sim) for form in sorted(FORMS)
              for family in ("ice40", "ecp5", "generic") for sim in ("icarus", "verilator")
              if (form, family, sim) not in CORE_CASES]


def _args(cfg, form, vectors_path, **kw):
    return {"config": cfg.to_dict(), "form": form, "vectors": str(vectors_path), **kw}


def _slow_selected(request) -> bool:
    return "slow" in (request.config.getoption("markexpr") or "")


@pytest.mark.parametrize(("form", "family", "simulator"), CORE_CASES + [
    pytest.param(*case, marks=pytest.mark.slow) for case in SLOW_CASES])
def test_core_netlist(form, family, simulator, request):
    if (form, family, simulator) in SLOW_CASES and not _slow_selected(request):
        pytest.skip("slow: run with pytest -m slow")
    if simulator not in SIMS:
        pytest.skip(f"{simulator} is not installed")
    cfg = default_person_config()
    name = f"gate-core-{form}"
    rtl = design_verilog(FORMS[form](cfg, pipeline=PERSON_PIPELINE[form]), name)
    net = design_netlist(rtl, family)
    assert not any(c.startswith("$") for c in net.cells) or family == "generic"
    d = build_dir(f"{name}-{family}", simulator)
    vec = d / "vectors.npy"
    # every edge vector, then random ones; fewer on Icarus, which is slow at gate level
    np.save(vec, person_vectors(cfg, 600 if simulator == "icarus" else 3000, seed=11))
    run_cocotb(name=f"{name}-{family}", sources=net.sources_for(simulator), toplevel="top",
               test_module="vitgates.sim.tb_person", testcase="core", simulator=simulator,
               build_args=net.build_args(simulator),
               args=_args(cfg, form, vec, pause_in=0.3, pause_out=0.3, seed=12))


@pytest.mark.parametrize("family", ["ecp5", pytest.param("ice40", marks=pytest.mark.slow)])
def test_unit_netlist(family, request):
    """Whole images, 768 bytes each, through the byte-stream unit's netlist."""
    if family == "ice40" and not _slow_selected(request):
        pytest.skip("slow: run with pytest -m slow (tests/test_regress.py runs the iCE40 unit "
                    "netlist through Verilator)")
    if "icarus" not in SIMS:
        pytest.skip("Icarus is not installed (Verilator runs the unit netlists in "
                    "tests/test_regress.py)")
    form = "popcount" if family == "ice40" else "sumdiff"
    cfg = default_person_config()
    name = f"gate-unit-{form}"
    rtl = design_verilog(PersonClassifier(cfg, form=form, pipeline=PERSON_PIPELINE[form]), name)
    net = design_netlist(rtl, family)
    d = build_dir(f"{name}-{family}", "icarus")
    vec = d / "pooled.npy"
    np.save(vec, pooled_vectors(cfg, 6, seed=13))
    run_cocotb(name=f"{name}-{family}", sources=net.sources_for("icarus"), toplevel="top",
               test_module="vitgates.sim.tb_person", testcase="unit", simulator="icarus",
               build_args=net.build_args("icarus"),
               args=_args(cfg, form, vec, pause_in=0.1, pause_out=0.5, seed=14))


def _break_output_gate(text: str) -> tuple[str, str, str]:
    """``text`` (a generic netlist) with the gate that drives the decision register changed
    from AND to OR (or OR to AND, XOR to XNOR); returns ``(text, old line, new line)``."""
    import re

    d = re.search(r"o__payload <= (\w+);", text).group(1)
    while True:  # follow renames to the gate itself
        line = re.search(rf"^  assign {re.escape(d)} = (.*);$", text, re.M)
        if re.fullmatch(r"[\w\\\[\]]+", line.group(1)):
            d = line.group(1)
            continue
        break
    old = line.group(0)
    op = re.search(r"[&|^]", line.group(1)).group(0)
    new = old.replace(f" {op} ", {"&": " | ", "|": " & ", "^": " ~^ "}[op], 1)
    assert new != old
    return text.replace(old, new, 1), old, new


def test_broken_netlist_is_caught():
    """One gate changed in a synthesised netlist (the AND before the popcount core's
    decision register made an OR) is caught at gate level: the same bench that passes on
    the netlist as yosys wrote it (``test_core_netlist``) reports a decision that differs
    from the golden model, and names the vector."""
    from vitgates.sim.runner import CocotbFailure

    sim = "icarus" if "icarus" in SIMS else "verilator"
    cfg = default_person_config()
    name = "gate-core-popcount"
    rtl = design_verilog(FORMS["popcount"](cfg, pipeline=PERSON_PIPELINE["popcount"]), name)
    net = design_netlist(rtl, "generic")
    d = build_dir(f"{name}-generic-broken", sim)
    broken, old, new = _break_output_gate(net.path.read_text())
    path = d / "netlist-broken.v"
    path.write_text(broken)
    diff = [(a, b) for a, b in zip(net.path.read_text().splitlines(), broken.splitlines(),
                                   strict=True) if a != b]
    assert diff == [(old, new)]  # one gate, nothing else
    vec = d / "vectors.npy"
    np.save(vec, person_vectors(cfg, 600, seed=11))
    with pytest.raises(CocotbFailure, match="vector"):
        run_cocotb(name=f"{name}-generic-broken", sources=[path], toplevel="top",
                   test_module="vitgates.sim.tb_person", testcase="core", simulator=sim,
                   args=_args(cfg, "popcount", vec, pause_in=0.3, pause_out=0.3, seed=12))
