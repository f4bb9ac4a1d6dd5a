"""The ``board`` design: a board's whole bitstream (``vitgates synth --design board``).

It builds :class:`~vitgates.fpga.board_top.BoardTop` through the board's amaranth-boards
platform, which places the pins (PCF on the iCE40, LPF on the ECP5), and reports beside the
usual keys what the link allows: ``baud``, ``clock_hz``, ``frame_bytes`` and
``link_images_per_second`` (frames of one pooled vector each, 8N1, back to back), and
``images_per_second_at_target``, the smaller of the link's and the core's rates.
"""

from pathlib import Path

from ..errors import VitgatesError
from ..golden.link import frame_bytes, link_images_per_second, person_config_id
from .board_top import DEFAULT_BAUD, BoardTop
from .boards import Board
from .designs import PERSON_PIPELINE, BuildFiles, Design, _person_config, register

__all__ = ["BOARD_CLOCK_MHZ", "BOARD_PIPELINE", "board_top", "board_report"]

#: The clock each board's PLL makes for the whole bitstream, and the one synthesis times it
#: at. The UART, not the clock, limits the link (a CLASSIFY frame is 2.6 ms on the line and
#: 768 cycles in the classifier), so the iCEBreaker runs at 36 MHz (12 cycles a bit at 3
#: Mbaud), well inside what place-and-route meets, rather than at the 48 MHz of the bare
#: cores; the ULX3S keeps its 100 MHz (33.3 cycles a bit).
BOARD_CLOCK_MHZ = {"icebreaker": 36.0, "ulx3s-85f": 100.0}


def _form(opts) -> str:
    return getattr(opts, "form", None) or "popcount"


def _baud(opts) -> int:
    baud = getattr(opts, "baud", None) or DEFAULT_BAUD
    if baud <= 0:
        raise VitgatesError(f"--baud must be positive, got {baud}")
    return int(baud)


#: A silence this long inside a frame ends it (TIMEOUT): far beyond any gap a host's UART
#: leaves between the bytes of a frame, far below a human's patience.
TIMEOUT_US = 20_000

#: Register stages of the person core on a board: one more than the synthesis designs use,
#: because in a full bitstream its gates are placed among the link's and routes run longer.
BOARD_PIPELINE = {form: n + 1 for form, n in PERSON_PIPELINE.items()}


def board_top(opts, board: Board) -> BoardTop:
    """The board top of ``board`` for the options (person config, form, baud)."""
    form = _form(opts)
    cfg = _person_config(opts)
    try:
        return BoardTop(board, clk_hz=int(BOARD_CLOCK_MHZ[board.name] * 1e6), baud=_baud(opts),
                        person=(cfg, form, BOARD_PIPELINE[form]), timeout_us=TIMEOUT_US)
    except ValueError as e:  # a baud rate the clock cannot make
        raise VitgatesError(f"board on {board.name}: {e}") from None


def _platform(board: Board):
    import importlib

    module, cls = board.platform.split(":")
    return getattr(importlib.import_module(module), cls)()


def _build(opts, board: Board, folder: Path) -> BuildFiles:
    top = board_top(opts, board)
    plan = _platform(board).prepare(top, name="top")
    constraints = "top.pcf" if board.family == "ice40" else "top.lpf"
    for name in ("top.il", constraints):
        content = plan.files[name]
        path = Path(folder) / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return BuildFiles(sources=["top.il"], constraints=constraints)


def board_report(opts, board: Board) -> dict:
    """The link's figures for the report of ``board`` on ``board``."""
    from ..hw.board_core import link_info

    form = _form(opts)
    cfg = _person_config(opts)
    clk_hz = int(BOARD_CLOCK_MHZ[board.name] * 1e6)
    info = link_info(clk_hz=clk_hz, baud=_baud(opts), person=(cfg, form, None),
                     timeout_cycles=max(2, round(TIMEOUT_US * clk_hz / 1e6)))
    person_ips = link_images_per_second(info.baud, info.feature_dim)
    core_ips = info.clock_hz / info.feature_dim  # the classifier takes a channel a cycle
    return {
        "baud": info.baud,
        "clock_hz": info.clock_hz,
        "link": "FTDI UART, 8N1, frames of docs/link.md",
        "cycles_per_bit": round(info.clock_hz / info.baud, 2),
        "designs": ["person"],
        "person_form": info.form,
        "person_pipeline": BOARD_PIPELINE[info.form],
        "person_config_id": person_config_id(cfg).hex(),
        "config": getattr(opts, "config", None) or "shipped synthetic-data config",
        "slots": info.slots,
        "max_payload": info.max_payload,
        "timeout_us": info.timeout_us,
        "frame_bytes": frame_bytes(info.feature_dim),
        "link_images_per_second": round(person_ips, 1),
        "core_images_per_second": round(core_ips),
        "images_per_second_at_target": round(min(person_ips, core_ips), 1),
    }


register(Design(
    name="board",
    summary="the board's bitstream: PLL, FTDI UART host link, person classifier",
    build=_build,
    extra=board_report,
    target_mhz=lambda board: BOARD_CLOCK_MHZ[board.name],
    options=[
        (("--form",), {"choices": ["popcount", "sumdiff"], "default": None,
                       "help": "board design: person-classifier form (default popcount)"}),
        (("--baud",), {"type": int, "default": None,
                       "help": f"board design: UART rate (default {DEFAULT_BAUD})"}),
    ],
))
