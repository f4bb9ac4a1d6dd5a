"""PLL settings of the board tops, and the iCEBreaker bitstream's pins."""

import pytest

from vitgates.fpga.board_design import BOARD_CLOCK_MHZ, board_report
from vitgates.fpga.boards import BOARDS
from vitgates.fpga.design import DesignOptions
from vitgates.fpga.person_design import default_person_config
from vitgates.fpga.pll import ecp5_pll_params, ice40_pll_params


@pytest.mark.parametrize("f_out", [36e6, 48e6, 24e6])
def test_ice40(f_out):
    p = ice40_pll_params(12e6, f_out)
    pfd = p.f_in / (p.divr + 1)
    vco = pfd * (p.divf + 1)
    assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6
    assert vco / 2**p.divq == f_out == p.f_out


@pytest.mark.parametrize("f_out", [100e6, 50e6, 75e6])
def test_ecp5(f_out):
    p = ecp5_pll_params(25e6, f_out)
    assert p.f_in / p.clki_div * p.clkfb_div == f_out
    assert 400e6 <= f_out * p.clkop_div <= 800e6


def test_impossible():
    with pytest.raises(ValueError, match="no iCE40 PLL setting"):
        ice40_pll_params(12e6, 37.1e6)


def test_board_clocks_make_the_link():
    """Each board's clock has a PLL setting and gives the UART at least 12 cycles a bit."""
    opts = DesignOptions(person_config=default_person_config())
    for name, mhz in BOARD_CLOCK_MHZ.items():
        board = BOARDS[name]
        if board.family == "ice40":
            ice40_pll_params(board.osc_mhz * 1e6, mhz * 1e6)
        else:
            ecp5_pll_params(board.osc_mhz * 1e6, mhz * 1e6)
        r = board_report(opts, board)
        assert r["cycles_per_bit"] >= 12 and r["clock_hz"] == mhz * 1e6
        assert r["link_images_per_second"] == pytest.approx(3e6 / (10 * 777), abs=0.1)
