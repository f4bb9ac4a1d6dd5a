"""``vitgates regress``, CI-sized: a few hundred images through every level, and a fault
that must make it fail.

The full regression (5,000 images, every netlist, both forms) is ``nox -s regress``; its
speed is measured by benchmarks/bench_regress.py.
"""

import argparse
import json

import numpy as np
import pytest

from vitgates.commands import regress
from vitgates.sim.runner import available_simulators

pytestmark = pytest.mark.cocotb

SIMS = available_simulators()


def _args(**kw):
    p = argparse.ArgumentParser()
    regress.configure_parser(p)
    argv = []
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return p.parse_args(argv)


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("VITGATES_BUILD", str(tmp_path / "build"))
    return tmp_path / "build"


def test_person_every_level(build):
    """300 images: float, INT8, RTL and the iCE40, ECP5 and generic netlists on Verilator
    (and on Icarus for 3 images where installed); every hardware level is identical to the
    golden INT8 model, and the report says so with its keys."""
    rc = regress.run(_args(design="popcount", images=300, icarus_images=3,
                           max_metric_drop=0.1))
    assert rc == 0
    rep = json.loads((build / "reports" / "regress-popcount.json").read_text())
    assert rep["dataset"].startswith("synthetic-pooled-v1 (synthetic")
    assert rep["synthetic"] is True and rep["n_images"] == 300 and rep["level"] == "gate"
    assert rep["agreement_with_int8"] == 1.0 and rep["passed"] is True
    assert 0.8 < rep["int8_vs_float_agreement"] < 1.0
    for k in ("f1", "precision", "recall"):
        assert k in rep
    # what depends on the run (times, rates) is beside the report, not in it
    run = json.loads((build / "reports" / "regress-popcount-run.json").read_text())
    assert "seconds" in run and "seconds" not in rep
    gate = [lv for lv in rep["levels"] if lv["level"] == "gate"]
    full = {lv["netlist"] for lv in gate if lv["n_images"] == 300}
    assert full == {"ice40", "ecp5", "generic"}
    assert all(lv["simulator"] == "verilator" for lv in gate if lv["n_images"] == 300)
    if "icarus" in SIMS:
        assert {lv["netlist"] for lv in gate if lv["simulator"] == "icarus"} == full
    hw = [c for c in rep["checks"] if c["criterion"] == "identical"]
    assert hw and all(c["status"] == "pass" and c["identical"] == c["compared"] for c in hw)
    vs_int8 = [c for c in hw if c["step"].endswith("vs INT8")]
    assert rep["hardware_vs_int8"] == {"identical": sum(c["identical"] for c in vs_int8),
                                       "compared": sum(c["compared"] for c in vs_int8)}
    int8 = next(lv for lv in rep["levels"] if lv["level"] == "int8")
    assert rep["f1"] == int8["f1"]
    for p in rep["plots"].values():
        assert (build / "reports" / p.split("/")[-1]).stat().st_size > 1000
    md = (build / "reports" / "regress-popcount.md").read_text()
    assert "synthetic" in md.lower() and "Result: **PASS**" in md


def test_faulty_hardware_fails(build, monkeypatch):
    """Hardware built from a config with a different K differs from the golden model on
    some images: the regression must report FAIL and exit 1."""
    from vitgates.features.synthetic import pooled_dataset
    from vitgates.fpga.person_design import default_person_config
    from vitgates.golden.person import ref_sumdiff, select
    from vitgates.golden.person_config import PersonConfig
    from vitgates.golden.quant import quantize
    from vitgates.hw import person_classifier
    from vitgates.regress import person as regress_person

    cfg = default_person_config()
    bad = PersonConfig(cfg.pos_dims, cfg.neg_dims, cfg.scale, cfg.T + 40, cfg.dim_thresholds,
                       cfg.K)
    x = select(quantize(pooled_dataset(n=40).features, cfg.scale), cfg)
    assert (ref_sumdiff(x, bad) != ref_sumdiff(x, cfg)).any()  # the fault is visible

    real = person_classifier.PersonClassifier

    def faulty(config, **kw):
        return real(bad, **kw)

    # the regression imports the class at its top; the designs registry looks it up later
    monkeypatch.setattr(person_classifier, "PersonClassifier", faulty)
    monkeypatch.setattr(regress_person, "PersonClassifier", faulty)
    sim = "icarus" if "icarus" in SIMS else "verilator"
    rc = regress.run(_args(design="sumdiff", images=40, icarus_images=40, netlists="generic",
                           simulators=sim, max_metric_drop=0.1))
    assert rc == 1
    rep = json.loads((build / "reports" / "regress-sumdiff.json").read_text())
    assert rep["passed"] is False and rep["agreement_with_int8"] < 1.0
    failed = {c["step"] for c in rep["checks"] if c["status"] == "FAIL"}
    assert failed == {f"RTL ({sim}) vs INT8", f"gate generic ({sim}) vs INT8"}
    assert "**FAIL**" in (build / "reports" / "regress-sumdiff.md").read_text()


def test_feature_cache_and_float_levels(build, tmp_path):
    """Real-data path: pooled features and labels from a cache (here the synthetic set
    written as one); the references only, no simulation."""
    from vitgates.features.synthetic import write_synthetic_cache

    write_synthetic_cache(tmp_path / "cache", "pooled", n=400, shard_size=150)
    rc = regress.run(_args(design="person", features=tmp_path / "cache",
                           levels="float,int8", max_metric_drop=0.1))
    assert rc == 0
    for form in ("popcount", "sumdiff"):
        rep = json.loads((build / "reports" / f"regress-{form}.json").read_text())
        assert rep["n_images"] == 400 and rep["level"] == "int8" and rep["synthetic"]
        assert rep["agreement_with_int8"] is None
    rep = json.loads((build / "reports" / "regress-sumdiff.json").read_text())
    assert rep["int8_vs_float_agreement"] > 0.99


@pytest.mark.parametrize(("argv", "message"), [
    (["--levels", "rtl,gate"], "must include float and int8"),
    (["--pause-in", "1.5"], "--pause-in"),
    (["--netlists", "ice41"], "unknown ice41"),
    (["--design", "nothing"], "unknown design"),
    (["--features", "/nonexistent/cache"], "not a feature cache"),
    (["--annotations", "a.json"], "needs --features"),
])
def test_bad_options_are_one_line(tmp_path, argv, message):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "vitgates", "regress", *argv],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vitgates: error: ") and message in lines[0]
    assert not (tmp_path / "build" / "reports").exists()


def test_pr_points():
    from vitgates.regress.plots import pr_points

    p, r = pr_points(np.array([3.0, 2.0, 2.0, 1.0]), np.array([1, 0, 1, 0], bool))
    assert p.tolist() == [1.0, 2 / 3, 0.5] and r.tolist() == [0.5, 1.0, 1.0]


def test_a_level_not_run_is_never_a_pass():
    """A level that could not be simulated is a NOT RUN step: the verdict is INCOMPLETE
    (not PASS), no agreement is claimed for it, and a failure elsewhere still reads FAIL."""
    from vitgates.regress.report import (
        LevelRun,
        Regression,
        identical_check,
        not_run_check,
    )

    reg = Regression("detector", "cofiber detector", "synthetic", True, 2, ["map"])
    reg.add_level(LevelRun("int8", "INT8", 2, {"map": 0.5}, 1.0))
    reg.add_level(LevelRun("rtl", "RTL (verilator)", 2, {"map": 0.5}, 1.0))
    reg.add_check(identical_check("RTL (verilator) vs INT8", [1, 2], [1, 2]))
    reg.add_check(not_run_check("gate ecp5 (verilator) vs INT8", "DP16KD has no model"))
    assert not reg.passed and reg.verdict == "INCOMPLETE"
    rep = reg.report()
    assert rep["passed"] is False and rep["verdict"] == "INCOMPLETE"
    assert rep["not_run"] == ["gate ecp5 (verilator) vs INT8"]
    assert rep["agreement_with_int8"] == 1.0  # from the step that ran
    step = next(c for c in rep["checks"] if c["status"] == "NOT RUN")
    assert step["agreement"] is None and "DP16KD" in step["note"]
    md = reg.markdown(rep)
    assert "Result: **INCOMPLETE**" in md and "Not simulated: gate ecp5 (verilator)" in md
    assert "**NOT RUN**" in md and "PASS" not in md
    reg.add_check(identical_check("gate ice40 (verilator) vs INT8", [1, 3], [1, 2]))
    assert reg.verdict == "FAIL"
    assert "first difference at item 1" in reg.checks[-1].note


def test_detector_references(build):
    """The detector's float and INT8 levels on one synthetic frame: pycocotools mAP, the
    decision agreement, plots with detections on the grid (the hardware levels of the
    detector are ``nox -s regress``: a 40×40×768 frame takes minutes to build)."""
    rc = regress.run(_args(design="detector", levels="float,int8", detector_images=1))
    assert rc == 0
    rep = json.loads((build / "reports" / "regress-detector.json").read_text())
    assert rep["synthetic"] and rep["n_images"] == 1 and rep["level"] == "int8"
    assert rep["map50"] > 0.5 and rep["int8_vs_float_agreement"] > 0.99
    assert {lv["level"] for lv in rep["levels"]} == {"float", "int8"}
    assert rep["agreement_with_int8"] is None and rep["verdict"] == "PASS"
    assert rep["folding"]["macs_per_cycle"] >= 64
    assert rep["gate_folding"]["macs_per_cycle"] == 64
    assert any(k.startswith("detections_") for k in rep["plots"])
    for p in rep["plots"].values():
        assert (build / "reports" / p.split("/")[-1]).stat().st_size > 1000


def test_detector_gate_folding():
    """The netlists run at --detector-gate-folding, else at a --detector-folding that was
    named, else at the narrow gate-level profile; a malformed one is one clear error."""
    from vitgates.errors import VitgatesError
    from vitgates.golden.detector import Folding
    from vitgates.hw.detector_profile import detector_profile
    from vitgates.regress.detector import gate_folding

    assert gate_folding() == detector_profile("gate").folding
    assert gate_folding(None, "2,4,2") == Folding(2, 4, 2)
    assert gate_folding("4,4,8", "2,4,2") == Folding(4, 4, 8)
    with pytest.raises(VitgatesError, match="--detector-gate-folding"):
        gate_folding("4,4")


def test_detector_sim_fifo():
    """The wide simulation profile gets the FIFO that keeps its classifier from waiting on
    the bands stage (413,667 cycles per frame without, 270,743 with: hw/cofiber_detector.py);
    the narrow gate-level folding, 7 times slower than the bands, none."""
    from vitgates.hw.detector_profile import detector_profile
    from vitgates.regress.detector import sim_fifo_depth

    rtl = detector_profile("rtl")
    assert sim_fifo_depth(rtl.folding, 768, 84) == rtl.fifo_depth > 0
    assert sim_fifo_depth(detector_profile("gate").folding, 768, 84) == 0


def test_payload_round_trip():
    """Stream payloads as integers: fields at their offsets, arrays as an extra axis, signed
    fields sign-extended on the way back."""
    from amaranth import signed
    from amaranth.lib import data

    from vitgates.golden.payload import field_specs, pack_payloads, unpack_payloads

    layout = data.StructLayout({"addr": 5, "w": data.ArrayLayout(signed(8), 3),
                                "end": 1})
    assert field_specs(layout) == [("addr", 0, 5, False, 1), ("w", 5, 8, True, 3),
                                   ("end", 29, 1, False, 1)]
    addr = np.array([0, 31, 7])
    w = np.array([[-128, 127, -1], [0, 1, 2], [5, -5, 100]])
    end = np.array([1, 0, 1])
    vals = pack_payloads(layout, [addr, w, end])
    assert vals[0] == 0 | (0x80 << 5) | (0x7F << 13) | (0xFF << 21) | (1 << 29)
    back = unpack_payloads(layout, vals)
    assert back["addr"].tolist() == addr.tolist() and back["end"].tolist() == end.tolist()
    assert back["w"].tolist() == w.tolist()
    with pytest.raises(ValueError, match="2 elements per transfer, expected 3"):
        pack_payloads(layout, [addr, w[:, :2], end])
