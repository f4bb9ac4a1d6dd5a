"""The ``board`` design: a board's whole bitstream (``vitgates synth --design board``).

It builds :class:`~vitgates.fpga.board_top.BoardTop` through the board's amaranth-boards
platform, which places the pins (PCF on the iCE40, LPF on the ECP5), and reports beside the
usual keys what the link allows: ``baud``, ``clock_hz``, ``frame_bytes`` and
``link_images_per_second`` (frames of one pooled vector each, 8N1, back to back), and
``images_per_second_at_target``, the smaller of the link's and the core's rates; for the
detector ``grid_bytes``, ``link_grids_per_second`` (a grid in frames of ``max_payload``
bytes) and ``detector_grids_per_second`` (the detector's compute bound).

``--holds`` picks the designs of the bitstream: ``both`` (the person classifier and the
cofiber detector, with the board's bitstream profile of :mod:`vitgates.hw.detector_profile`:
on the UP5K the DualMul8 DSP folding with its weights in SPRAM), ``person`` or
``detector``. The default is what fits the board (:data:`DEFAULT_HOLDS`, docs/link.md):
both on the ULX3S, the person classifier on the iCEBreaker.
"""

import importlib
from pathlib import Path

from ..errors import VitgatesError
from ..golden.detector_head import NUM_CLASSES
from ..golden.link import DetectorShape, frame_bytes, link_images_per_second, person_config_id
from ..hw.board_core import link_info
from ..hw.detector_profile import MultiplierKind, detector_profile
from ..hw.dual_mul8 import ICESTORM_DSP_BLACKBOX
from .board_top import BoardTop
from .boards import Board
from .design import BuildFiles, Design, DesignOptions, SynthResult
from .detector_design import CHANNELS, GRID
from .person_design import PERSON_PIPELINE, SHIPPED_CONFIG

__all__ = ["BOARD_CLOCK_MHZ", "board_clock_mhz", "BOARD_PIPELINE", "DEFAULT_HOLDS",
           "board_top", "board_report", "detector_args", "BOARD"]

#: The clock each board's PLL makes for the whole bitstream, and the one synthesis times it
#: at. The UART, not the clock, limits the link (a CLASSIFY frame is 2.6 ms on the line and
#: 768 cycles in the classifier; a 40×40 grid 4.1 s on the line and 0.18 s in the UP5K's
#: detector), so the iCEBreaker runs at 36 MHz (12 cycles a bit at 3 Mbaud), well inside
#: what place-and-route meets (the detector alone reaches about 48 MHz), and the ULX3S at
#: 75 MHz (25 cycles a bit, exactly): its detector's critical path (the bands stage's
#: read-modify-write through block RAM) reaches about 90 MHz, short of the 100 MHz a
#: person-only ECP5 bitstream met.
BOARD_CLOCK_MHZ = {"icebreaker": 36.0, "ulx3s-85f": 75.0}


def board_clock_mhz(opts, board: Board) -> float:
    """The clock the board design runs (and is timed) at for these options: a bitstream that
    holds only the detector runs at its bitstream profile's clock."""
    if _holds(opts, board) == "detector":
        return detector_profile(board=board.name, bitstream=True).clock_mhz
    return BOARD_CLOCK_MHZ[board.name]


#: A silence this long inside a frame ends it (TIMEOUT): far beyond any gap a host's UART
#: leaves between the bytes of a frame, far below a human's patience.
TIMEOUT_US = 20_000

#: Register stages of the person core on a board: one more than the synthesis designs use,
#: because in a full bitstream its gates are placed among the link's and routes run longer.
BOARD_PIPELINE = {form: n + 1 for form, n in PERSON_PIPELINE.items()}


#: What a board's bitstream holds unless ``--holds`` says otherwise: what fits. The UP5K
#: runs out of logic cells with the link and the detector (docs/link.md, measured).
DEFAULT_HOLDS = {"icebreaker": "person", "ulx3s-85f": "both"}


def _holds(opts: DesignOptions, board: Board) -> str:
    return opts.holds or DEFAULT_HOLDS[board.name]


def _with_detector(opts: DesignOptions, board: Board) -> bool:
    return _holds(opts, board) in ("both", "detector")


def _with_person(opts: DesignOptions, board: Board) -> bool:
    return _holds(opts, board) in ("both", "person")


def detector_args(board: Board, *, sim: bool = False, grid=None, channels=None,
                  n_classes=None) -> dict:
    """The keyword arguments of the board's cofiber detector: the full-size detector with
    the board's bitstream profile (:func:`vitgates.hw.detector_profile.detector_profile`);
    ``sim`` swaps the vendor primitives for generic logic, ``grid``/``channels``/``n_classes``
    make a small one (tests)."""
    p = detector_profile(board=board.name, bitstream=True)
    return {"grid": tuple(grid or GRID), "channels": channels or CHANNELS,
            "n_classes": n_classes or NUM_CLASSES,
            **(p.simulated() if sim else p).detector_args()}


def board_top(opts: DesignOptions, board: Board) -> BoardTop:
    """The board top of ``board`` for the options (person config, form, baud, detector)."""
    form = opts.form
    det = detector_args(board) if _with_detector(opts, board) else None
    person = ((opts.person_config, form, BOARD_PIPELINE[form]) if _with_person(opts, board)
              else None)
    try:
        return BoardTop(board, clk_hz=int(board_clock_mhz(opts, board) * 1e6), baud=opts.baud,
                        person=person,
                        timeout_us=TIMEOUT_US, detector=det,
                        # the UP5K is short of logic cells with the detector (docs/link.md)
                        status_copies=not (det is not None and board.family == "ice40"))
    except ValueError as e:  # a baud rate the clock cannot make
        raise VitgatesError(f"board on {board.name}: {e}") from None


def _platform(board: Board):
    module, cls = board.platform.split(":")
    return getattr(importlib.import_module(module), cls)()


def _build(opts: DesignOptions, board: Board, folder: Path) -> BuildFiles:
    top = board_top(opts, board)
    plan = _platform(board).prepare(top, name="top")
    constraints = "top.pcf" if board.family == "ice40" else "top.lpf"
    sources = ["top.il"]
    if (_with_detector(opts, board)
            and detector_args(board)["mul"] is MultiplierKind.ICESTORM_DSP):
        (Path(folder) / "icestorm_dsp.v").write_text(ICESTORM_DSP_BLACKBOX)
        sources.insert(0, "icestorm_dsp.v")
    for name in ("top.il", constraints):
        content = plan.files[name]
        path = Path(folder) / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return BuildFiles(sources=tuple(sources), constraints=constraints)


def board_report(opts: DesignOptions, board: Board) -> dict:
    """The link's figures for the report of ``board`` on ``board``."""
    form = opts.form
    cfg = opts.person_config
    clk_hz = int(board_clock_mhz(opts, board) * 1e6)
    shape = None
    if _with_detector(opts, board):
        a = detector_args(board)
        f = a["folding"]
        shape = DetectorShape(a["grid"], a["channels"], a["n_classes"], a["box_rows"],
                              f.rows, f.lanes)
    person = (cfg, form, None) if _with_person(opts, board) else None
    info = link_info(clk_hz=clk_hz, baud=opts.baud, person=person,
                     timeout_cycles=max(2, round(TIMEOUT_US * clk_hz / 1e6)),
                     detector=shape)
    person_ips = link_images_per_second(info.baud, info.feature_dim)
    core_ips = info.clock_hz / info.feature_dim  # the classifier takes a channel a cycle
    out = {
        "baud": info.baud,
        "clock_hz": info.clock_hz,
        "link": "FTDI UART, 8N1, frames of docs/link.md",
        "cycles_per_bit": round(info.clock_hz / info.baud, 2),
        "designs": (["person"] if person else []) + (["detector"] if shape is not None else []),
        "person_form": form,
        "person_pipeline": BOARD_PIPELINE[form] if person else None,
        "person_config_id": person_config_id(cfg).hex(),
        "config": opts.config or SHIPPED_CONFIG,
        "slots": info.slots,
        "max_payload": info.max_payload,
        "timeout_us": info.timeout_us,
        "frame_bytes": frame_bytes(info.feature_dim),
        "link_images_per_second": round(person_ips, 1),
        "core_images_per_second": round(core_ips),
        "images_per_second_at_target": round(min(person_ips, core_ips), 1),
    }
    if shape is not None:
        out.update(_detector_report(board, info, shape))
    return out


def _detector_report(board: Board, info, shape) -> dict:
    f = detector_args(board)["folding"]
    full, rest = divmod(shape.grid_bytes, info.max_payload)
    wire = full * frame_bytes(info.max_payload) + (frame_bytes(rest) if rest else 0)
    cycles = shape.grid[0] * shape.grid[1] * shape.channels * shape.n_rows / f.macs_per_cycle
    link_gps = info.baud / 10 / wire
    core_gps = info.clock_hz / cycles
    out = {
        "detector_grid": [*shape.grid, shape.channels],
        "detector_folding": {"pixels": f.pixels, "rows": f.rows, "lanes": f.lanes},
        "grid_bytes": shape.grid_bytes,
        "grid_wire_bytes": wire,
        "link_grids_per_second": round(link_gps, 4),
        "detector_cycles_bound": int(cycles),
        "detector_grids_per_second": round(core_gps, 2),
        "grids_per_second_at_target": round(min(link_gps, core_gps), 4),
        "detection_record_bytes": shape.record_bytes,
        "detection_frame_bytes": frame_bytes(shape.record_bytes),
    }
    return out


def _extra(opts: DesignOptions, board: Board, result: SynthResult) -> dict:
    out = board_report(opts, board)
    if _with_detector(opts, board) and board.family == "ice40":
        # the DSPs pass yosys as ICESTORM_DSP blackboxes, which the generic count misses
        out["dsp"] = result.cell_count("ICESTORM_DSP", "SB_MAC16")
    return out


BOARD = Design(
    name="board",
    summary="the board's bitstream: PLL, FTDI UART host link, person classifier, detector",
    build=_build,
    extra=_extra,
    target_mhz=lambda board: BOARD_CLOCK_MHZ[board.name],
    target_mhz_for=board_clock_mhz,
)
