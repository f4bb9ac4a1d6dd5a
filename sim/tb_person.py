"""cocotb testbenches of the person classifier, checked against the golden integer model.

Run through :func:`vitgates.sim.runner.run_cocotb` (see ``tests/test_person_cocotb.py``) with
arguments:

- ``config``: the PersonConfig as a dict; ``form``: "popcount" or "sumdiff";
- ``vectors``: path of an ``.npy`` int8 array: ``[n, 40]`` selected features for ``core`` and
  ``gates``, ``[n, 768]`` pooled features for ``unit``;
- ``pause_in`` / ``pause_out``: probabilities of an idle input cycle / a cycle without
  ``ready`` on the output; ``seed``.

Tests (pick one with ``testcase``): ``core`` (a PopcountClassifier or SumDiffClassifier),
``unit`` (a PersonClassifier reading bytes), ``gates`` (the AND/XOR/NOT netlist of the
combinational core, ports ``x``/``y``). Every decision is compared with the golden model; a
mismatch names the vector.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer

from ..golden.person import ref_popcount, ref_sumdiff, select
from ..golden.person_config import PersonConfig
from .runner import tb_args
from .streams import StreamSink, StreamSource

_REF = {"popcount": ref_popcount, "sumdiff": ref_sumdiff}


def _setup():
    a = tb_args()
    cfg = PersonConfig.from_dict(a["config"])
    vectors = np.load(a["vectors"])
    return a, cfg, vectors


def _pack(row) -> int:
    """An int8 vector as the flat bits of ``ArrayLayout(signed(8), n)`` (element 0 lowest)."""
    out = 0
    for k, v in enumerate(row):
        out |= (int(v) & 0xFF) << (8 * k)
    return out


def _check(got, want, inputs, what):
    got = np.asarray(got, dtype=int)
    want = np.asarray(want, dtype=int)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: {got.size} decisions for {want.size} vectors")
    bad = np.flatnonzero(got != want)
    if bad.size:
        k = int(bad[0])
        raise AssertionError(
            f"{what}: {bad.size} of {want.size} decisions differ from the golden model; "
            f"first at vector {k}: got {got[k]}, expected {want[k]}, "
            f"vector {inputs[k].tolist()}"
        )
    cocotb.log.info(f"{what}: {want.size} decisions identical to the golden model")


async def _reset(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0


async def _stream_test(dut, payloads, expect, inputs, what, cycles_per_item):
    a = tb_args()
    await _reset(dut)
    src = StreamSource(dut, "i", dut.clk, pause=a.get("pause_in", 0.0), seed=a.get("seed", 0))
    sink = StreamSink(dut, "o", dut.clk, pause=a.get("pause_out", 0.0),
                      seed=a.get("seed", 0) + 1)
    cocotb.start_soon(sink.run())
    await src.send(payloads)
    budget = 20 + int(cycles_per_item * len(expect) / max(1e-3, 1 - a.get("pause_out", 0.0)))
    await sink.wait_for(len(expect), budget)
    await ClockCycles(dut.clk, 20)  # nothing may follow the last decision
    _check(sink.items, expect, inputs, what)


@cocotb.test()
async def core(dut):
    """A person-classifier core: 40 selected features in, one decision out."""
    a, cfg, x = _setup()
    want = _REF[a["form"]](x, cfg)
    await _stream_test(dut, [_pack(r) for r in x], want, x, f"{a['form']} core", 2)


@cocotb.test()
async def unit(dut):
    """FeatureSelect and a core: 768 bytes in per image, one decision out."""
    a, cfg, q = _setup()
    want = _REF[a["form"]](select(q, cfg), cfg)
    payloads = [int(v) & 0xFF for v in q.reshape(-1)]
    await _stream_test(dut, payloads, want, q, f"{a['form']} unit", 2 * cfg.feature_dim)


@cocotb.test()
async def gates(dut):
    """The mapped AND/XOR/NOT netlist of the combinational core."""
    a, cfg, x = _setup()
    want = _REF[a["form"]](x, cfg)
    got = []
    for row in x:
        dut.x.value = _pack(row)
        await Timer(1, unit="ns")
        got.append(int(dut.y.value))
    _check(got, want, x, f"{a['form']} gate netlist")
