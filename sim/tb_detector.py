"""cocotb testbenches of the cofiber detector, checked against the golden integer model.

Run through :func:`vitgates.sim.runner.run_cocotb` (see ``tests/test_detector_cocotb.py``)
with arguments:

- ``stimulus``: path of an ``.npz`` with the payload integers of every transfer,
  ``weights`` (``w_write``), ``thresholds`` (``t_write``), ``features`` (``i``), and
  ``expect``, the records the golden model (:func:`~vitgates.golden.detector.ref_detect`)
  says must leave ``o``, each frame closed by its end record; all as Python-int lists
  stored as decimal strings (records are wider than 64 bits);
- ``record``: ``[n_classes, box_rows, width, [H, W]]``, the arguments of the record layout
  (:func:`~vitgates.golden.detector_formats.detection_layout`), to print a mismatch;
- ``pause_in`` / ``pause_out``: probabilities of an idle input cycle / a cycle without
  ``ready`` on the output; ``seed``; ``cycles``: a budget for the whole run.

Tests: ``detector`` (a :class:`~vitgates.hw.cofiber_detector.CofiberDetector`: ports
``i``, ``o``, ``w_write``, ``t_write``) and ``dual_mul8`` (a
:class:`~vitgates.hw.dual_mul8.DualMul8` in its SB_MAC16 form, run on yosys's model of the
cell, against every pair of extreme operands and random ones).
"""

import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout

from ..golden.detector_formats import detection_layout
from ..golden.payload import unpack
from .runner import tb_args
from .streams import StreamSink, StreamSource

__all__ = []


async def _reset(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def _ints(a) -> list[int]:
    return [int(s) for s in a.tolist()]


def _decode(value: int, layout) -> str:
    return " ".join(f"{name}={v}" for name, v in unpack(layout, value).items())


@cocotb.test()
async def detector(dut):
    """Weights, thresholds, then every frame; the record stream must equal the golden one."""
    a = tb_args()
    st = np.load(a["stimulus"])
    expect = _ints(st["expect"])
    phase = ["reset"]
    try:
        await with_timeout(_detector_run(dut, a, st, expect, phase), 10 * a["cycles"], "ns")
    except SimTimeoutError:
        raise AssertionError(f"no progress within {a['cycles']} cycles (phase: {phase[0]})") \
            from None


async def _detector_run(dut, a, st, expect, phase):
    await _reset(dut)
    seed = a.get("seed", 0)
    for name in ("w_write", "t_write"):
        phase[0] = name
        src = StreamSource(dut, name, dut.clk, pause=a.get("pause_in", 0.0), seed=seed)
        await src.send(_ints(st["weights" if name == "w_write" else "thresholds"]))
    sink = StreamSink(dut, "o", dut.clk, pause=a.get("pause_out", 0.0), seed=seed + 1)
    cocotb.start_soon(sink.run())
    phase[0] = "features"
    src = StreamSource(dut, "i", dut.clk, pause=a.get("pause_in", 0.0), seed=seed + 2)
    await src.send(_ints(st["features"]))
    phase[0] = "records"
    await sink.wait_for(len(expect), a["cycles"])
    await ClockCycles(dut.clk, 50)  # nothing may follow the last end record
    got = sink.items
    layout = detection_layout(*a["record"])
    for n, (g, w) in enumerate(zip(got, expect, strict=False)):
        if g != w:
            raise AssertionError(
                f"record {n} of {len(expect)} differs from the golden model: got "
                f"{_decode(g, layout)}, expected {_decode(w, layout)}")
    if len(got) != len(expect):
        raise AssertionError(f"{len(got)} records, expected {len(expect)}")
    cocotb.log.info(f"{len(expect)} records identical to the golden model")


@cocotb.test()
async def dual_mul8(dut):
    """Two exact signed 8×8 products per cycle from one SB_MAC16 (yosys's cell model)."""
    a = tb_args()
    rng = random.Random(a.get("seed", 0))
    ext = [-128, -127, -1, 0, 1, 126, 127]
    pairs = [(x, y, y, x) for x in ext for y in ext]
    pairs += [tuple(rng.randrange(-128, 128) for _ in range(4)) for _ in range(2000)]
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.ce.value = 1
    got = []
    for n in range(len(pairs) + 2):
        if n < len(pairs):
            al, bl, ah, bh = pairs[n]
            dut.a_lo.value, dut.b_lo.value = al & 0xFF, bl & 0xFF
            dut.a_hi.value, dut.b_hi.value = ah & 0xFF, bh & 0xFF
        await RisingEdge(dut.clk)
        if n >= 2:
            got.append((dut.p_lo.value.to_signed(), dut.p_hi.value.to_signed()))
    # sampled right after edge n: the values from before it, the products of pair n − 2
    want = [(al * bl, ah * bh) for al, bl, ah, bh in pairs]
    for n, (g, w) in enumerate(zip(got, want, strict=True)):
        if g != w:
            raise AssertionError(f"pair {n} {pairs[n]}: got {g}, expected {w}")
    cocotb.log.info(f"{len(want)} product pairs exact")
