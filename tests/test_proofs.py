"""proofs/: the Coq build from scratch, and the quick part of the formal RTL checks.

The full set (every pipeline depth, two configs, the combinational equivalence of both gate
cores with their specification) is ``nox -s proofs``.
"""

import dataclasses
import shutil
from pathlib import Path

import pytest
from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from vitgates.hw.popcount import PopcountClassifier
from vitgates.sim.formal import FORBIDDEN, build_coq, coq_order, find_proofs_dir, forbidden_words
from vitgates.sim.formal_rtl import (
    _configs,
    _core_impl,
    _core_internal,
    _run_harness,
    _StreamHarness,
    equivalence,
    skid_check,
    stream_check,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def proofs_dir():
    return find_proofs_dir(ROOT)


def test_coq_builds_from_scratch_without_axioms(proofs_dir, tmp_path):
    if shutil.which("coqc") is None:
        pytest.fail("coqc not found: apt-get install coq (.ci/run does)")
    results = build_coq(proofs_dir, tmp_path / "coq")
    bad = [r for r in results if not r["ok"]]
    assert not bad, bad
    names = [r["name"] for r in results]
    assert [f"coqc {m}.v" for m in coq_order(proofs_dir)] == names[1:-1]
    assert results[-1]["theorems"] >= 90  # every Theorem/Lemma/Corollary was checked


def test_coq_order_puts_imports_first(proofs_dir):
    order = coq_order(proofs_dir)
    assert order.index("Cofiber") < order.index("Grid") < order.index("Classify")
    assert order.index("Classify") < order.index("Person")
    listed = (proofs_dir / "_CoqProject").read_text().split()
    assert sorted(f for f in listed if f.endswith(".v")) == sorted(f"{m}.v" for m in order)


def test_forbidden_words_are_found(proofs_dir, tmp_path):
    assert forbidden_words(proofs_dir) == []
    for f in proofs_dir.glob("*.v"):
        shutil.copy2(f, tmp_path / f.name)
    with open(tmp_path / "Grid.v", "a") as f:
        f.write("\nLemma cheat : False.\nProof. Admitted.\n(* an Axiom *)\n")
    hits = forbidden_words(tmp_path)
    assert [h.split(": ")[1] for h in hits] == ["Admitted", "Axiom"]
    assert set(FORBIDDEN) >= {"Admitted", "admit", "Axiom"}


def test_an_axiom_fails_the_build(tmp_path):
    if shutil.which("coqc") is None:
        pytest.fail("coqc not found: apt-get install coq (.ci/run does)")
    src = tmp_path / "src"
    src.mkdir()
    (src / "Cheat.v").write_text(
        "Axiom ax : False.\nTheorem anything : 1 = 2.\nProof. destruct ax. Qed.\n")
    results = {r["name"]: r for r in build_coq(src, tmp_path / "coq")}
    assert not results["no Admitted/admit/Axiom in proofs/"]["ok"]
    assert results["coqc Cheat.v"]["ok"]
    assert not results["Print Assumptions"]["ok"]


def test_stream_properties_pipelined_popcount(tmp_path):
    config = _configs(quick=True)[0][1]
    r = stream_check("popcount", config, 2, tmp_path)
    assert r["ok"], r["detail"]


class _Dropping(PopcountClassifier):
    """Takes a vector while its output stalls: the stalled decision is overwritten."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(1)
        return m


class _Duplicating(PopcountClassifier):
    """Keeps o.valid after a transfer: the same decision leaves twice."""

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = PopcountClassifier(self.config, pipeline=1)
        m.d.comb += [core.i.valid.eq(self.i.valid), core.i.payload.eq(self.i.payload),
                     self.i.ready.eq(core.i.ready), self.o.payload.eq(core.o.payload),
                     core.o.ready.eq(self.o.ready)]
        again = Signal()
        m.d.sync += again.eq(core.o.valid & core.o.ready)
        m.d.comb += self.o.valid.eq(core.o.valid | again)
        return m


@pytest.mark.parametrize("broken", [_Dropping, _Duplicating])
def test_stream_check_catches_a_broken_core(broken, tmp_path):
    config = _configs(quick=True)[0][1]
    core = broken(config, pipeline=1)
    harness = _StreamHarness(core, 1, _core_impl(PopcountClassifier, config),
                             _core_internal(PopcountClassifier, config, 1))
    r = _run_harness(harness, tmp_path, timeout=300, maxsteps=4)
    assert not r["ok"]
    assert "FAIL" in r["detail"]


def test_skid_buffer_stream_properties(tmp_path):
    r = skid_check(tmp_path)
    assert r["ok"], r["detail"]


class _BrokenSkid(wiring.Component):
    """A two-entry buffer with one fault: ``overwrite`` takes a transfer while both entries
    are full (the held one is lost); ``jump`` takes a transfer while the skid register is
    full and the output frees, and sends it ahead of the skid register's (reorder)."""

    i: In(stream.Signature(8))
    o: Out(stream.Signature(8))

    def __init__(self, fault):
        self.fault = fault
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        skid_valid = Signal()
        skid = Signal(8)
        free = ~self.o.valid | self.o.ready
        ready = {"overwrite": 1, "jump": ~skid_valid | free}[self.fault]
        m.d.comb += self.i.ready.eq(ready)
        with m.If(free):
            if self.fault == "jump":
                with m.If(self.i.valid & self.i.ready):
                    m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(1)]
                with m.Elif(skid_valid):
                    m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1),
                                 skid_valid.eq(0)]
                with m.Else():
                    m.d.sync += self.o.valid.eq(0)
            else:
                with m.If(skid_valid):
                    m.d.sync += [self.o.payload.eq(skid), skid_valid.eq(0)]
                with m.Else():
                    m.d.sync += [self.o.valid.eq(self.i.valid),
                                 self.o.payload.eq(self.i.payload)]
        with m.Elif(self.i.valid & self.i.ready):
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m


@pytest.mark.parametrize("fault", ["overwrite", "jump"])
def test_skid_check_catches_a_broken_buffer(fault, tmp_path):
    r = skid_check(tmp_path, dut=_BrokenSkid(fault))
    assert not r["ok"]
    assert "FAIL" in r["detail"]


def test_popcount_core_equals_specification(tmp_path):
    for name, config in _configs(quick=False):
        r = equivalence("popcount", config, tmp_path / name)
        assert r["ok"], (name, r["detail"])


class _OffByOne(PopcountClassifier):
    @classmethod
    def decision(cls, gates, x, config):
        return super().decision(gates, x, dataclasses.replace(config, K=config.K + 1))


class _OneThresholdOff(PopcountClassifier):
    @classmethod
    def decision(cls, gates, x, config):
        t = list(config.dim_thresholds)
        t[7] += 1
        return super().decision(gates, x, dataclasses.replace(config, dim_thresholds=tuple(t)))


@pytest.mark.parametrize("broken", [_OffByOne, _OneThresholdOff])
def test_equivalence_catches_a_wrong_core(broken, tmp_path):
    config = _configs(quick=True)[0][1]
    r = equivalence("popcount", config, tmp_path, core=broken)
    assert not r["ok"]
    assert "FAIL" in r["detail"] or "ERROR" in r["detail"]
