"""The detector's profile table: every entry fits its device and builds, lookups fail clearly."""

import pytest
from amaranth.hdl import Fragment

from vitgates.errors import VitgatesError
from vitgates.fpga.board_design import BOARD_CLOCK_MHZ
from vitgates.fpga.boards import BOARDS
from vitgates.fpga.detector_design import CHANNELS, GRID
from vitgates.golden.detector_head import BOX_ROWS, NUM_CLASSES
from vitgates.hw.cofiber_detector import CofiberDetector
from vitgates.hw.detector_profile import (
    PROFILES,
    DetectorProfile,
    MemoryKind,
    MultiplierKind,
    ProfileError,
    detector_profile,
)
from vitgates.hw.single_port_ram import SPRAM_DEPTH, SPRAM_WIDTH
from vitgates.regress.detector import sim_fifo_depth
from vitgates.sim.netlist import FAMILIES

BOARD_PROFILES = [p for p in PROFILES.values() if p.board is not None]
SIM_PROFILES = [p for p in PROFILES.values() if p.board is None]

#: INT8 products per device multiplier: two per SB_MAC16 in dual 8×8 mode; one per ECP5
#: MULT18X18D, where yosys maps each generic 8×8 product
PRODUCTS_PER_DSP = {MultiplierKind.ICESTORM_DSP: 2, MultiplierKind.SB_MAC16: 2,
                    MultiplierKind.GENERIC: 1}
#: bits of one block RAM: iCE40 SB_RAM40_4K, ECP5 DP16KD
EBR_BITS = {"ice40": 4 * 1024, "ecp5": 18 * 1024}


def _rows(p: DetectorProfile) -> int:
    return NUM_CLASSES + p.box_rows


def test_names_are_unique_and_keys():
    assert all(name == p.name for name, p in PROFILES.items())
    assert len({p.name for p in PROFILES.values()}) == len(PROFILES)
    with pytest.raises(TypeError):
        PROFILES["new"] = PROFILES["rtl"]  # the table is read-only


def test_every_board_has_a_detector_and_a_bitstream_profile():
    for board in BOARDS:
        alone = detector_profile(board=board)
        inside = detector_profile(board=board, bitstream=True)
        assert (alone.board, alone.bitstream) == (board, False)
        assert (inside.board, inside.bitstream) == (board, True)
        # one bitstream, one circuit: the link sits beside the same MAC array
        assert (inside.folding, inside.multiplier, inside.memory) == \
            (alone.folding, alone.multiplier, alone.memory)
    for p in BOARD_PROFILES:
        assert p.board in BOARDS, p.name
        assert sum(q.board == p.board and q.bitstream == p.bitstream
                   for q in BOARD_PROFILES) == 1, p.name


@pytest.mark.parametrize("p", BOARD_PROFILES, ids=lambda p: p.name)
def test_board_profile_fits_its_device(p):
    board = BOARDS[p.board]
    f = p.folding
    # multipliers: one DualMul8 per two products
    assert f.macs_per_cycle % 2 == 0, p.name
    assert f.macs_per_cycle <= board.capacity["dsp"] * PRODUCTS_PER_DSP[p.multiplier], p.name
    # the vendor primitives exist on that family only
    if p.multiplier in (MultiplierKind.ICESTORM_DSP, MultiplierKind.SB_MAC16) \
            or p.memory is MemoryKind.SPRAM:
        assert board.family == "ice40", p.name
    # the weights: one word of rows·lanes INT8 values per cycle
    width, depth = 8 * f.rows * f.lanes, f.depth(_rows(p), CHANNELS)
    if p.memory is MemoryKind.SPRAM:
        assert width % SPRAM_WIDTH == 0 and width // SPRAM_WIDTH <= board.capacity["spram"]
        assert depth <= SPRAM_DEPTH, p.name
    else:
        assert width * depth <= board.capacity["ebr"] * EBR_BITS[board.family], p.name
    # a clock the board's synthesis flow is asked for, never above the board's default
    assert p.clock_mhz is not None and 0 < p.clock_mhz <= board.target_mhz, p.name


def test_up5k_bounds_meet():
    """The UP5K's MAC array is the DSP bound (8 SB_MAC16 × 2 products) and the weight bound
    (4 SPRAMs × 16 bits = 8 INT8 weights a cycle) at once."""
    p = detector_profile(board="icebreaker")
    assert p.multiplier is MultiplierKind.ICESTORM_DSP and p.memory is MemoryKind.SPRAM
    assert p.folding.macs_per_cycle == BOARDS["icebreaker"].capacity["dsp"] * 2
    weights_per_cycle = BOARDS["icebreaker"].capacity["spram"] * SPRAM_WIDTH // 8
    assert p.folding.rows * p.folding.lanes == weights_per_cycle
    assert _rows(p) % p.folding.rows == 0  # no padded rows


def test_bitstream_clocks():
    """A bitstream adds the link around the detector: it never runs faster than the detector
    alone nor than the board's whole bitstream."""
    for board in BOARDS:
        inside = detector_profile(board=board, bitstream=True)
        assert inside.clock_mhz <= detector_profile(board=board).clock_mhz
        assert inside.clock_mhz <= BOARD_CLOCK_MHZ[board]
    assert detector_profile("icebreaker-board").box_rows == 0
    assert detector_profile("icebreaker-board").clock_mhz == 30.0


@pytest.mark.parametrize("p", list(PROFILES.values()), ids=lambda p: p.name)
def test_grids_divide(p):
    """The full-size 40×40×768 grid in 4×4 blocks, the channels in whole weight words."""
    f = p.folding
    assert GRID[0] % 4 == 0 and GRID[1] % 4 == 0
    assert 16 % f.pixels == 0
    assert CHANNELS % f.lanes == 0
    assert f.depth(_rows(p), CHANNELS) == f.passes(_rows(p)) * CHANNELS // f.lanes
    assert p.fifo_depth >= 0 and p.box_rows in (0, BOX_ROWS)


@pytest.mark.parametrize("p", list(PROFILES.values()), ids=lambda p: p.name)
def test_every_profile_builds(p):
    det = CofiberDetector(grid=(8, 8), channels=16 * p.folding.lanes, n_classes=3,
                          **p.detector_args())
    assert (det.folding, det.mul, det.ram, det.fifo_depth, det.box_rows) == \
        (p.folding, p.multiplier, p.memory, p.fifo_depth, p.box_rows)
    Fragment.get(det, None)  # elaborates, vendor primitives included
    sim = p.simulated()
    assert (sim.multiplier, sim.memory) == (MultiplierKind.GENERIC, MemoryKind.GENERIC)
    assert (sim.folding, sim.fifo_depth, sim.box_rows) == (p.folding, p.fifo_depth, p.box_rows)


def test_simulation_profiles():
    rtl, gate = detector_profile("rtl"), detector_profile("gate")
    for p in SIM_PROFILES:
        assert p.clock_mhz is None and not p.bitstream, p.name
        assert (p.multiplier, p.memory) == (MultiplierKind.GENERIC, MemoryKind.GENERIC)
        # the FIFO is the one the regression gives a detector of that folding
        assert p.fifo_depth == sim_fifo_depth(p.folding, CHANNELS, _rows(p)), p.name
    # netlists with a profile of their own run beside RTL, at its folding
    own = [p for p in SIM_PROFILES if p.name in FAMILIES]
    assert [p.name for p in own] == ["generic-dsp"]
    assert all(p.folding == rtl.folding for p in own)
    assert "generic" not in PROFILES  # the all-gates netlist runs at the gate profile
    assert gate.folding.macs_per_cycle < rtl.folding.macs_per_cycle
    assert rtl.fifo_depth > 0 == gate.fifo_depth


def test_lookup_errors_are_one_line():
    with pytest.raises(VitgatesError, match=r"unknown detector profile 'up5k' \(known: "):
        detector_profile("up5k")
    with pytest.raises(VitgatesError, match="no profile for board 'arty'"):
        detector_profile(board="arty")
    with pytest.raises(VitgatesError, match="not both or neither"):
        detector_profile()
    with pytest.raises(VitgatesError, match="not both or neither"):
        detector_profile("rtl", board="icebreaker")
    for call in (lambda: detector_profile("nope"), lambda: detector_profile(board="nope")):
        with pytest.raises(ProfileError) as e:
            call()
        assert "\n" not in str(e.value)


def test_kinds():
    assert MultiplierKind.parse("icestorm_dsp") is MultiplierKind.ICESTORM_DSP
    assert MemoryKind.parse(MemoryKind.SPRAM) is MemoryKind.SPRAM
    with pytest.raises(VitgatesError, match=r"mul: unknown multiplier kind 'dsp' \(known: "
                       r"generic, sb_mac16, icestorm_dsp\)"):
        MultiplierKind.parse("dsp", "mul")
    # a ValueError too, as the units' other parameter checks are
    with pytest.raises(ValueError, match=r"ram: unknown memory kind 'bram' \(known: generic, "
                       r"spram\)"):
        MemoryKind.parse("bram", "ram")
    with pytest.raises(ProfileError, match="profile x: unknown multiplier kind"):
        DetectorProfile("x", None, detector_profile("rtl").folding, "mac", MemoryKind.GENERIC)
    with pytest.raises(ProfileError, match="fifo_depth"):
        DetectorProfile("x", None, detector_profile("rtl").folding, MultiplierKind.GENERIC,
                        MemoryKind.GENERIC, fifo_depth=-1)
