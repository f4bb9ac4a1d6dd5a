"""The person classifier as ``vitgates synth`` designs: ``popcount`` and ``sumdiff``.

Each is its synthesis top (:class:`~vitgates.hw.person_classifier.PersonClassifier` with
plain ports: the core in context), its combinational core for the gate count, and its cycles
per image measured in simulation. Both build the config of
:attr:`~vitgates.fpga.design.DesignOptions.person_config`.
"""

from importlib import resources

from amaranth.sim import Simulator

from ..golden.person_config import PersonConfig, load_person_config
from ..hw.person_classifier import FORMS, PersonClassifier
from .design import Design
from .gates import NetworkCore

__all__ = ["PERSON_PIPELINE", "SHIPPED_CONFIG", "PERSON_DESIGNS", "default_person_config"]

#: Register stages of each person core: enough for 48 MHz on the iCE40 UP5K.
PERSON_PIPELINE = {"popcount": 3, "sumdiff": 4}

#: How the reports name the config shipped with vitgates.
SHIPPED_CONFIG = "shipped synthetic-data config"


def default_person_config() -> PersonConfig:
    """The config fitted on the synthetic pooled set, shipped with vitgates."""
    path = resources.files("vitgates") / "data" / "person-synthetic.json"
    with resources.as_file(path) as p:
        return load_person_config(p)


def _person_top(form):
    def top(opts, board):
        return PersonClassifier(opts.person_config, form=form, pipeline=PERSON_PIPELINE[form])

    return top


def _person_gate_core(form):
    def core(opts, board):
        cfg = opts.person_config

        def build(x):
            gates, bit = FORMS[form].network(cfg, [x[8 * k:8 * k + 8] for k in range(40)])
            return gates, [bit]

        return NetworkCore(build, 8 * 40)

    return core


def _person_cycles(form):
    def cycles(opts, board) -> int:
        """Cycles between consecutive decisions with both sides always ready."""
        cfg = opts.person_config
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


def _person_design(form: str, summary: str) -> Design:
    return Design(
        name=form,
        summary=summary,
        top=_person_top(form),
        gate_core=_person_gate_core(form),
        cycles_per_image=_person_cycles(form),
        extra=lambda opts, board, result: {
            "pipeline": PERSON_PIPELINE[form],
            "config": opts.config or SHIPPED_CONFIG,
        },
    )


PERSON_DESIGNS = (
    _person_design("popcount", "person classifier, popcount form (seed 000 stage 5b)"),
    _person_design("sumdiff", "person classifier, exact sum-difference form (seed 000 stages 0/5)"),
)
