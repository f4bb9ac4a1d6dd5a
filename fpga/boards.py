"""The boards vitgates builds for, and what their devices offer.

Device facts come from the vendor data sheets (iCE40 UltraPlus family data sheet, ECP5
family data sheet); the amaranth-boards platform class of each board supplies pins for the
board tops.
"""

from dataclasses import dataclass, field

from ..errors import VitgatesError

__all__ = ["Board", "BOARDS", "get_board"]


@dataclass(frozen=True)
class Board:
    name: str
    family: str  # "ice40" or "ecp5"
    device: str
    package: str
    #: nextpnr arguments selecting the device and package
    nextpnr_args: tuple[str, ...]
    #: the board's oscillator, MHz
    osc_mhz: float
    #: clock the cores are timed at, MHz (reached on the board through the PLL)
    target_mhz: float
    #: resources of the device: luts, ffs, ebr (block RAMs), spram, dsp
    capacity: dict = field(default_factory=dict)
    #: amaranth-boards platform class, "module:Class"
    platform: str = ""


BOARDS = {
    "icebreaker": Board(
        name="icebreaker",
        family="ice40",
        device="iCE40UP5K",
        package="SG48",
        nextpnr_args=("--up5k", "--package", "sg48"),
        osc_mhz=12.0,
        target_mhz=48.0,
        capacity={"luts": 5280, "ffs": 5280, "ebr": 30, "spram": 4, "dsp": 8},
        platform="amaranth_boards.icebreaker:ICEBreakerPlatform",
    ),
    "ulx3s-85f": Board(
        name="ulx3s-85f",
        family="ecp5",
        device="LFE5U-85F",
        package="CABGA381",
        nextpnr_args=("--85k", "--package", "CABGA381"),
        osc_mhz=25.0,
        target_mhz=100.0,
        capacity={"luts": 83640, "ffs": 83640, "ebr": 208, "spram": 0, "dsp": 156},
        platform="amaranth_boards.ulx3s:ULX3S_85F_Platform",
    ),
}


def get_board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise VitgatesError(
            f"unknown board {name!r} (known: {', '.join(sorted(BOARDS))})"
        ) from None
