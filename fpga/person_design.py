"""The designs ``vitgates synth`` can build, by name.

A design knows its synthesis top (plain ports, no pins: the cores in context), its
combinational core for the gate count, and how to measure its cycles per image in
simulation. Board tops with pins, UART and PLL (``board``: :mod:`vitgates.fpga.board_top`)
register here the same way, with a ``build`` hook that writes their netlist and pin
constraints instead of a ``top``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from amaranth.sim import Simulator

from ..errors import VitgatesError
from ..golden.person_config import PersonConfig, load_person_config

__all__ = ["BuildFiles", "Design", "DESIGNS", "get_design", "default_person_config", "register"]

#: Register stages of each person core: enough for 48 MHz on the iCE40 UP5K.
PERSON_PIPELINE = {"popcount": 3, "sumdiff": 4}


@dataclass
class BuildFiles:
    """What a design's ``build`` hook wrote into the synthesis folder."""

    #: netlist files, read by yosys in order (``.il``: RTLIL, ``.v``: Verilog)
    sources: list
    #: pin constraints: a PCF (iCE40) or LPF (ECP5) file, or None for free placement
    constraints: str | None = None


@dataclass
class Design:
    name: str
    summary: str
    #: options -> synthesis top (an Elaboratable whose ports are all top-level ports)
    top: Callable | None = None
    #: options -> NetworkCore for the gate count, or None
    gate_core: Callable | None = None
    #: options -> cycles per image, measured in simulation
    cycles_per_image: Callable | None = None
    #: (options, board) -> extra report keys
    extra: Callable | None = None
    #: design-specific command-line options: (flags, kwargs) pairs
    options: list = field(default_factory=list)
    #: (options, board, folder) -> BuildFiles: writes the netlist and the pin constraints
    #: (board tops); when None, ``top`` is converted to Verilog and placed with free pins
    build: Callable | None = None
    #: board -> the clock (MHz) the design is timed at, when it is not the board's target
    #: (board tops pick their PLL's output; see :mod:`vitgates.fpga.board_design`)
    target_mhz: Callable | None = None
    #: (options, board) -> the clock (MHz), when the options choose it (overrides target_mhz)
    target_mhz_for: Callable | None = None


DESIGNS: dict[str, Design] = {}


def register(design: Design) -> Design:
    DESIGNS[design.name] = design
    return design


def get_design(name: str) -> Design:
    try:
        return DESIGNS[name]
    except KeyError:
        raise VitgatesError(
            f"unknown design {name!r} (known: {', '.join(sorted(DESIGNS))})"
        ) from None


def default_person_config() -> PersonConfig:
    """The config fitted on the synthetic pooled set, shipped with vitgates."""
    path = resources.files("vitgates") / "data" / "person-synthetic.json"
    with resources.as_file(path) as p:
        return load_person_config(p)


def _person_config(opts) -> PersonConfig:
    path = getattr(opts, "config", None)
    return load_person_config(Path(path)) if path else default_person_config()


def _person_top(form):
    def top(opts):
        from ..hw.person_classifier import PersonClassifier

        return PersonClassifier(_person_config(opts), form=form, pipeline=PERSON_PIPELINE[form])

    return top


def _person_gate_core(form):
    def core(opts):
        from ..hw.person_classifier import FORMS
        from .gates import NetworkCore

        cfg = _person_config(opts)

        def build(x):
            gates, bit = FORMS[form].network(cfg, [x[8 * k:8 * k + 8] for k in range(40)])
            return gates, [bit]

        return NetworkCore(build, 8 * 40)

    return core


def _person_cycles(form):
    def cycles(opts) -> int:
        """Cycles between consecutive decisions with both sides always ready."""
        from ..hw.person_classifier import PersonClassifier

        cfg = _person_config(opts)
        dut = PersonClassifier(cfg, form=form, pipeline=PERSON_PIPELINE[form])
        n_images = 3
        done = []

        async def bench(ctx):
            ctx.set(dut.o.ready, 1)
            ctx.set(dut.i.valid, 1)
            cycle = 0
            sent = 0
            while len(done) < n_images:
                ctx.set(dut.i.payload, (sent * 7) % 256 - 128)
                _, _, i_ready, o_valid = await ctx.tick().sample(dut.i.ready, dut.o.valid)
                if i_ready:
                    sent += 1
                if o_valid:
                    done.append(cycle)
                cycle += 1
                if sent == n_images * cfg.feature_dim:
                    ctx.set(dut.i.valid, 0)

        sim = Simulator(dut)
        sim.add_clock(1e-8)
        sim.add_testbench(bench)
        sim.run()
        gaps = {b - a for a, b in zip(done, done[1:], strict=False)}
        if len(gaps) != 1:
            raise AssertionError(f"uneven decision spacing {sorted(gaps)}")
        return gaps.pop()

    return cycles


_CONFIG_OPTION = (
    ("--config",),
    {"help": "person-classifier config (JSON); default: the shipped synthetic-data config"},
)

for _form, _summary in (
    ("popcount", "person classifier, popcount form (seed 000 stage 5b)"),
    ("sumdiff", "person classifier, exact sum-difference form (seed 000 stages 0/5)"),
):
    register(Design(
        name=_form,
        summary=_summary,
        top=_person_top(_form),
        gate_core=_person_gate_core(_form),
        cycles_per_image=_person_cycles(_form),
        extra=lambda opts, board, _f=_form: {
            "pipeline": PERSON_PIPELINE[_f],
            "config": getattr(opts, "config", None) or "shipped synthetic-data config",
        },
        options=[_CONFIG_OPTION],
    ))

# The board tops register themselves (after the person designs, whose options they share).
from . import board_design  # noqa: E402, F401

# The cofiber detector (its synthesis top, profiles and cycle bench: fpga/detector_design.py).
from .detector_design import detector_design  # noqa: E402

register(detector_design())
