"""The designs ``vitgates synth`` can build, by name.

This list sits above the designs: it imports each design module, and none of them imports
it. What a design is (its hooks, options and synthesis result) is :mod:`vitgates.fpga.design`.
"""

from ..errors import VitgatesError
from .board_design import BOARD
from .design import Design
from .detector_design import detector_design
from .person_design import PERSON_DESIGNS

__all__ = ["DESIGNS", "get_design"]

#: Every design, by name: the person classifier's two forms, the cofiber detector, and the
#: board's whole bitstream (board tops with pins, UART and PLL: :mod:`vitgates.fpga.board_top`).
DESIGNS: dict[str, Design] = {d.name: d for d in (*PERSON_DESIGNS, detector_design(), BOARD)}


def get_design(name: str) -> Design:
    try:
        return DESIGNS[name]
    except KeyError:
        raise VitgatesError(
            f"unknown design {name!r} (known: {', '.join(sorted(DESIGNS))})"
        ) from None
