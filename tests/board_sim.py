"""The simulated board shared by the board's cocotb tests and the host-client test: one
Verilator build of the board top, reused under a lock (pytest-xdist may run the tests that
need it at the same time)."""

import fcntl
from contextlib import contextmanager

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from vitgates.fpga.board_design import BOARD_CLOCK_MHZ, BOARD_PIPELINE, detector_args
from vitgates.fpga.board_top import BoardTop
from vitgates.fpga.boards import BOARDS
from vitgates.fpga.person_design import default_person_config
from vitgates.golden.link.replies import info_payload
from vitgates.hw.board_core import BoardCore
from vitgates.sim.runner import build_dir, run_cocotb, write_verilog

#: the iCEBreaker bitstream's clock and line rate (12 cycles a bit); the simulation clock is
#: 20 ns so that a bit is 240 ns of simulated time exactly
CLK_HZ = int(BOARD_CLOCK_MHZ["icebreaker"] * 1e6)
BAUD = 3_000_000
PERIOD_NS = 20
FORM = "popcount"
#: four byte times of silence end a frame (20 ms on the board)
TOP_TIMEOUT = 4 * 10 * CLK_HZ // BAUD
#: the simulated top's detector: the iCEBreaker's folding and 4 box rows, with 8 classes on a
#: 4×4 grid of 16 channels, in generic logic, so that a grid is 256 bytes and the weights and
#: thresholds 384 bytes each
SIM_GRID, SIM_CHANNELS, SIM_CLASSES = (4, 4), 16, 8


def board_top():
    cfg = default_person_config()
    board = BOARDS["icebreaker"]
    return cfg, BoardTop(board, clk_hz=CLK_HZ, baud=BAUD,
                         person=(cfg, FORM, BOARD_PIPELINE[FORM]), timeout_cycles=TOP_TIMEOUT,
                         detector=detector_args(board, sim=True, grid=SIM_GRID,
                                                channels=SIM_CHANNELS, n_classes=SIM_CLASSES))


def base_args(cfg, info, timeout_cycles):
    return {"config": cfg.to_dict(), "form": FORM, "info": info_payload(info).hex(),
            "cycles_per_bit": CLK_HZ // BAUD, "timeout_cycles": timeout_cycles,
            "period_ns": PERIOD_NS}


@contextmanager
def locked(folder):
    with open(folder / "lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_top(testcase, args, simulator="verilator"):
    """Run a testcase of ``vitgates.sim.tb_board`` on the board top (built once)."""
    cfg, top = board_top()
    name = "board-top"
    d = build_dir(name, simulator)
    with locked(d):
        from amaranth.back import verilog

        path = d / "top.v"
        text = verilog.convert(top, ports=top.ports(), name="top")
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        return run_cocotb(name=name, sources=[path], toplevel="top",
                          test_module="vitgates.sim.tb_board", testcase=testcase,
                          simulator=simulator,
                          args={**base_args(cfg, top.info, TOP_TIMEOUT), **args})


class CoreHarness(wiring.Component):
    """The link core without its UART, driven in chunks so that a testbench needs a few
    triggers a frame instead of several a byte.

    A toggle of ``in_go`` sends the first ``in_len`` bytes of ``in_data`` (byte 0 lowest)
    into the core, one every ``gap`` cycles (``in_busy`` meanwhile); every byte the core
    sends (always ready) is shifted into ``o_window`` (the newest at the top) and counted in
    ``o_count``.
    """

    CHUNK = 64
    WINDOW = 256

    def __init__(self, core: BoardCore, gap: int):
        self.core = core
        self.gap = gap
        super().__init__({
            "in_data": In(8 * self.CHUNK),
            "in_len": In(range(self.CHUNK + 1)),
            "in_go": In(1),
            "in_busy": Out(1),
            "o_window": Out(8 * self.WINDOW),
            "o_count": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        go = Signal()
        shreg = Signal(8 * self.CHUNK)
        left = Signal(range(self.CHUNK + 1))
        wait = Signal(range(self.gap))
        m.d.sync += go.eq(self.in_go)
        m.d.comb += [core.i.payload.eq(shreg[:8]), core.i.valid.eq((left != 0) & (wait == 0)),
                     self.in_busy.eq(left != 0)]
        with m.If(go != self.in_go):
            m.d.sync += [shreg.eq(self.in_data), left.eq(self.in_len), wait.eq(0)]
        with m.Elif(core.i.valid & core.i.ready):
            m.d.sync += [shreg.eq(shreg >> 8), left.eq(left - 1), wait.eq(self.gap - 1)]
        with m.Elif(wait != 0):
            m.d.sync += wait.eq(wait - 1)
        m.d.comb += core.o.ready.eq(1)
        with m.If(core.o.valid):
            m.d.sync += [self.o_window.eq(Cat(self.o_window[8:], core.o.payload)),
                         self.o_count.eq(self.o_count + 1)]
        return m


def sim_detector():
    """The small detector of the simulated board (:data:`SIM_GRID` and so on)."""
    return detector_args(BOARDS["icebreaker"], sim=True, grid=SIM_GRID, channels=SIM_CHANNELS,
                         n_classes=SIM_CLASSES)


def run_core(testcase, args, timeout_cycles, gap, simulator="verilator", detector=None,
             person=True, status_copies=True):
    """Run a testcase of ``vitgates.sim.tb_board`` on the link core in a
    :class:`CoreHarness`. By default the core holds the shipped person classifier and no
    detector; ``detector``: the keyword arguments of a detector (:func:`sim_detector`),
    ``person=False`` leaves the classifier out and ``status_copies=False`` reads STATUS from
    the live counters (the iCEBreaker's link-and-detector bitstream). Other cores than the
    default are built in folders of their own."""
    cfg = default_person_config()
    core = BoardCore(clk_hz=CLK_HZ, baud=BAUD,
                     person=(cfg, FORM, BOARD_PIPELINE[FORM]) if person else None,
                     timeout_cycles=timeout_cycles, detector=detector,
                     status_copies=status_copies)
    name = "board-core"
    if detector is not None:
        name += "-detector"
    if not person:
        name += "-noperson"
    if not status_copies:
        name += "-live"
    d = build_dir(name, simulator)
    with locked(d):
        src = write_verilog(CoreHarness(core, gap), d / "top.v")
        return run_cocotb(name=name, sources=[src], toplevel="top",
                          test_module="vitgates.sim.tb_board", testcase=testcase,
                          simulator=simulator,
                          args={**base_args(cfg, core.info, timeout_cycles), "gap": gap,
                                **args})
