"""cocotb testbenches of the person classifier on Verilator (and Icarus where installed).

10,000 vectors per core with random stalls on both sides, 100 whole images through the
byte-stream unit, and the mapped AND/XOR/NOT netlist of each core, all against the golden
integer model.
"""

import numpy as np
import pytest

from vitgates.fpga.gates import NetworkCore, count_gates
from vitgates.fpga.person_design import PERSON_PIPELINE, default_person_config
from vitgates.hw.person_classifier import FORMS, PersonClassifier
from vitgates.sim.runner import available_simulators, build_dir, run_cocotb, write_verilog
from vitgates.sim.vectors import person_vectors, pooled_vectors

from conftest import random_person_config

pytestmark = pytest.mark.cocotb

SIMS = available_simulators()
CONFIGS = {"shipped": default_person_config, "random": lambda: random_person_config(7)}


def _args(cfg, form, vectors_path, **kw):
    return {"config": cfg.to_dict(), "form": form, "vectors": str(vectors_path), **kw}


@pytest.mark.parametrize("simulator", SIMS)
@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("form", sorted(FORMS))
def test_core(form, config, simulator):
    cfg = CONFIGS[config]()
    name = f"person-core-{form}-{config}"
    d = build_dir(name, simulator)
    vec = d / "vectors.npy"
    np.save(vec, person_vectors(cfg, 10_000, seed=3))
    src = write_verilog(FORMS[form](cfg, pipeline=PERSON_PIPELINE[form]), d / "top.v")
    run_cocotb(name=name, sources=[src], toplevel="top", test_module="vitgates.sim.tb_person",
               testcase="core", simulator=simulator,
               args=_args(cfg, form, vec, pause_in=0.3, pause_out=0.3, seed=5))


@pytest.mark.parametrize("simulator", SIMS)
@pytest.mark.parametrize("form", sorted(FORMS))
def test_unit(form, simulator):
    cfg = default_person_config()
    name = f"person-unit-{form}"
    d = build_dir(name, simulator)
    vec = d / "pooled.npy"
    np.save(vec, pooled_vectors(cfg, 100, seed=4))
    top = PersonClassifier(cfg, form=form, pipeline=PERSON_PIPELINE[form])
    src = write_verilog(top, d / "top.v")
    run_cocotb(name=name, sources=[src], toplevel="top", test_module="vitgates.sim.tb_person",
               testcase="unit", simulator=simulator,
               args=_args(cfg, form, vec, pause_in=0.2, pause_out=0.5, seed=6))


@pytest.mark.parametrize("simulator", SIMS)
@pytest.mark.parametrize("form", sorted(FORMS))
def test_gate_netlist(form, simulator):
    cfg = default_person_config()
    name = f"person-gates-{form}"
    d = build_dir(name, simulator)

    def build(x):
        gates, bit = FORMS[form].network(cfg, [x[8 * k:8 * k + 8] for k in range(40)])
        return gates, [bit]

    gc = count_gates(NetworkCore(build, 320), d / "gates")
    vec = d / "vectors.npy"
    np.save(vec, person_vectors(cfg, 10_000, seed=8))
    run_cocotb(name=name, sources=[gc.netlist], toplevel="top",
               test_module="vitgates.sim.tb_person", testcase="gates", simulator=simulator,
               args=_args(cfg, form, vec))
