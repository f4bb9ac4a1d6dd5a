"""The pieces every regression shares: levels, verification steps, progress, the report.

A regression runs one design at several levels (float, INT8, RTL, gate; see
docs/regress.md), records each as a :class:`LevelRun` (metrics, images, seconds) and
compares them pairwise as :class:`Check` rows, the way FINN marks each step of its
verification: a hardware level against the golden INT8 model must be *identical*, INT8
against float is *measured* and passes when the metric drops by no more than a tolerance.
:class:`Regression` turns them into the ``regress-<design>`` JSON (keys in
docs/reports.md) and Markdown. :func:`simulate` runs a list of simulation levels through
the batch harness with a progress bar each.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ..errors import VitgatesError
from ..sim.gatelevel import SimLevel, prepare_harness
from ..sim.harness import HarnessError, Stream

__all__ = [
    "Check",
    "LevelRun",
    "Regression",
    "SimOutcome",
    "TIMING_KEYS",
    "identical_check",
    "not_run_check",
    "progress",
    "simulate",
]


@dataclass
class Check:
    """One verification step: ``step`` compares ``compared`` decisions of two levels."""

    step: str
    compared: int
    identical: int
    criterion: str
    passed: bool
    note: str = ""
    ran: bool = True

    @property
    def agreement(self) -> float | None:
        if not self.ran:
            return None
        return self.identical / self.compared if self.compared else 1.0

    @property
    def status(self) -> str:
        """``pass``, ``FAIL``, or ``NOT RUN`` (a level that could not be simulated: never a
        pass)."""
        return "NOT RUN" if not self.ran else "pass" if self.passed else "FAIL"

    def as_dict(self) -> dict:
        a = self.agreement
        return {"step": self.step, "compared": self.compared, "identical": self.identical,
                "agreement": None if a is None else round(a, 6), "criterion": self.criterion,
                "status": self.status, **({"note": self.note} if self.note else {})}


def not_run_check(step: str, reason: str) -> Check:
    """The step of a level that could not be simulated: reported, and not a pass."""
    return Check(step, 0, 0, "identical", False, reason, ran=False)


def identical_check(step: str, got, want, unit: str = "decisions") -> Check:
    """A hardware step: every decision of ``got`` must equal ``want``."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return Check(step, int(want.size), 0, "identical", False,
                     f"{got.size} {unit} for {want.size}")
    same = int(np.count_nonzero(got == want))
    note = ""
    if same != want.size:
        k = int(np.flatnonzero(got != want)[0])
        note = f"first difference at item {k}: {got[k]} instead of {want[k]}"
    return Check(step, int(want.size), same, "identical", same == want.size, note)


#: the keys of a level that depend on the run (the machine, its load, the number of workers,
#: what was built before): in ``regress-<design>-run.json``, never in the report, whose
#: bytes are the same however the run went
TIMING_KEYS = ("seconds", "images_per_second", "synth_seconds", "build_seconds")


def _rate(v: float) -> str:
    """Images per second for a table: thousands separated above 100, three significant
    digits below (a gate-level detector frame takes tens of seconds)."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


@dataclass
class LevelRun:
    """One level of a regression: what it decided and how fast."""

    level: str  # float, int8, rtl, gate
    label: str
    n_images: int
    metrics: dict
    seconds: float
    netlist: str | None = None
    simulator: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def images_per_second(self) -> float:
        return self.n_images / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self, timing: bool = True) -> dict:
        """The level as the report holds it; ``timing=False`` leaves out
        :data:`TIMING_KEYS` (see :meth:`timing`)."""
        d = {"level": self.level, "label": self.label, "n_images": self.n_images,
             **{k: round(v, 6) for k, v in self.metrics.items()},
             "seconds": round(self.seconds, 3),
             "images_per_second": round(self.images_per_second, 2)}
        if self.netlist:
            d["netlist"] = self.netlist
        if self.simulator:
            d["simulator"] = self.simulator
        d.update(self.extra)
        if not timing:
            d = {k: v for k, v in d.items() if k not in TIMING_KEYS}
        return d

    def timing(self) -> dict:
        """What :meth:`as_dict` leaves out with ``timing=False``, with what names the level
        (``label``, ``level``, and ``netlist``, ``simulator`` where it has them)."""
        d = self.as_dict()
        names = ("label", "level", "netlist", "simulator")
        return {**{k: d[k] for k in names if k in d}, **{k: d[k] for k in TIMING_KEYS if k in d}}


@dataclass
class SimOutcome:
    """What :func:`simulate` returns per level: the outputs and the measurements."""

    level: SimLevel
    outputs: list
    n_images: int
    seconds: float
    build_seconds: float
    synth_seconds: float
    cycles: int
    cells: dict


class _RateColumn(ProgressColumn):
    """A task's ``rate`` field (items per second of a sharded run), where it has one."""

    def render(self, task) -> Text:
        return Text(str(task.fields.get("rate", "")))


@contextmanager
def progress(console=None):
    """A rich progress display (bars for simulations and shards, spinners for builds): done
    of total, the rate of a sharded run, time elapsed and time left."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), _RateColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as p:
        yield p


def simulate(levels: Sequence[SimLevel], verilog, name: str, inputs: Sequence[Stream],
             output: Stream, items: Callable[[SimLevel], tuple[list, int | None, int]], *,
             prog=None, tag: str = "", harness_options: dict | None = None,
             run_options: dict | None = None,
             frames: bool = False) -> tuple[list[SimOutcome], list]:
    """Run the design at each simulation level through the batch harness.

    ``items(level) -> (item lists, expected outputs or None, images)`` gives what to stream
    at that level (Icarus may get a prefix of the data). ``frames``: outputs come in frames
    with an end marker (the harness's ``end_bit``), one frame per image. ``prog``: a rich
    Progress. Returns ``(outcomes, skipped, failed)``: a level whose netlist cannot be
    simulated faithfully (a cell without a model, a failed synthesis or build) is skipped
    with its reason, ``(level, reason)``; a run that broke a stream rule, gave too many or
    too few outputs or hung is ``failed``, ``(level, reason)``.
    """
    out, skipped, failed = [], [], []
    for lv in levels:
        task = None
        if prog is not None:
            task = prog.add_task(f"{lv.label}: synthesis and build{tag}", total=None)
        try:
            harness, netlist = prepare_harness(lv, verilog, name, inputs, output,
                                               **(harness_options or {}))
        except VitgatesError as e:
            skipped.append((lv, str(e)))
            if prog is not None:
                prog.update(task, description=f"{lv.label}: not simulated{tag}", total=1,
                            completed=0)
            continue
        data, expect, n_images = items(lv)
        if prog is not None:
            prog.update(task, description=f"{lv.label}: {n_images} images{tag}",
                        total=n_images, completed=0)

        def on_progress(n, _task=task, _expect=expect, _n=n_images):
            if prog is not None:
                done = n if _expect is None or _expect == _n else n * _n // max(_expect, 1)
                prog.update(_task, completed=min(done, _n))

        every = max(1, (expect or n_images) // 100) if not frames else 1 << 30
        try:
            r = harness.run(data, expect=expect, frames=n_images if frames else None,
                            progress=every, on_progress=on_progress, tag="regress",
                            **(run_options or {}))
        except HarnessError as e:
            failed.append((lv, str(e)))
            if prog is not None:
                prog.update(task, description=f"{lv.label}: FAILED{tag}")
            continue
        if prog is not None:
            prog.update(task, completed=n_images)
        synth = netlist.seconds if netlist is not None else 0.0
        out.append(SimOutcome(lv, r.outputs, n_images, r.seconds,
                              harness.build_seconds if harness.rebuilt else 0.0,
                              synth, r.cycles, netlist.cells if netlist else {}))
    return out, skipped, failed


class Regression:
    """Collects the levels and checks of one design and writes its report.

    ``metric_keys``: the metrics every level reports (``f1``, ``precision``, ``recall`` or
    ``map``, ``map50``, ``map75``); ``decision_unit``: what a compared item is ("images",
    "detections").
    """

    def __init__(self, design: str, title: str, dataset: str, synthetic: bool, n_images: int,
                 metric_keys: Sequence[str], decision_unit: str = "decisions"):
        self.design = design
        self.title = title
        self.dataset = dataset
        self.synthetic = synthetic
        self.n_images = n_images
        self.metric_keys = list(metric_keys)
        self.decision_unit = decision_unit
        self.levels: list[LevelRun] = []
        self.checks: list[Check] = []
        self.plots: dict = {}
        self.info: dict = {}
        self.sections: list[str] = []
        self.t0 = time.monotonic()

    @property
    def tag(self) -> str:
        return " (synthetic)" if self.synthetic else ""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def verdict(self) -> str:
        """``PASS``; ``FAIL`` when a step that ran failed; ``INCOMPLETE`` when every step
        that ran passed but a level could not be run."""
        if any(c.ran and not c.passed for c in self.checks):
            return "FAIL"
        return "PASS" if self.passed else "INCOMPLETE"

    def add_level(self, run: LevelRun) -> LevelRun:
        self.levels.append(run)
        return run

    def add_check(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    def level(self, name: str) -> LevelRun | None:
        return next((lv for lv in self.levels if lv.level == name), None)

    def top_level(self) -> LevelRun:
        """The highest level run on every image: gate if any, else rtl, int8, float."""
        for name in ("gate", "rtl", "int8", "float"):
            runs = [lv for lv in self.levels if lv.level == name]
            full = [lv for lv in runs if lv.n_images == self.n_images]
            if full or runs:
                return (full or runs)[0]
        raise ValueError("no level was run")

    def report(self, timing: bool = True) -> dict:
        """The ``regress-<design>`` JSON. ``timing=False``: without the keys that depend
        on the run (total ``seconds`` and each level's :data:`TIMING_KEYS`): the same bytes
        whatever the machine, its load or the number of workers; they are
        :meth:`run_report`."""
        top = self.top_level()
        hw = [c for c in self.checks if c.criterion == "identical" and c.step.endswith("INT8")
              and c.ran]
        hw_agree = min((c.agreement for c in hw), default=None)
        f_check = next((c for c in self.checks if c.step == "INT8 vs float"), None)
        d = {
            "design": self.design,
            "dataset": self.dataset,
            "synthetic": self.synthetic,
            "n_images": self.n_images,
            "level": top.level,
            **{k: round(top.metrics[k], 6) for k in self.metric_keys if k in top.metrics},
            "agreement_with_int8": None if hw_agree is None else round(hw_agree, 6),
            "hardware_vs_int8": {"identical": sum(c.identical for c in hw),
                                 "compared": sum(c.compared for c in hw)},
            "int8_vs_float_agreement": None if f_check is None else round(f_check.agreement, 6),
            "passed": self.passed,
            "verdict": self.verdict,
            "not_run": [c.step for c in self.checks if not c.ran],
            "seconds": round(time.monotonic() - self.t0, 1),
            "levels": [lv.as_dict(timing) for lv in self.levels],
            "checks": [c.as_dict() for c in self.checks],
            "plots": {k: str(v) for k, v in self.plots.items()},
        }
        d.update(self.info)
        if not timing:
            del d["seconds"]
        return d

    def run_report(self, **run) -> dict:
        """How this run went (``regress-<design>-run.json``): total seconds, each level's
        :data:`TIMING_KEYS`, and ``run`` (workers, hosts, shards)."""
        return {"design": self.design, "seconds": round(time.monotonic() - self.t0, 1),
                **run, "levels": [lv.timing() for lv in self.levels]}

    def markdown(self, data: dict, timing: bool = True) -> str:
        """The Markdown report; ``timing=False``: without the columns and lines that
        depend on the run (as :meth:`report`)."""
        syn = self.synthetic
        verdict = self.verdict
        lines = [f"# Regression: {self.title}{self.tag}", ""]
        lines.append(f"Dataset: {self.dataset}, {self.n_images} images.")
        if syn:
            lines.append("**Synthetic data**: these numbers check the pipeline from float "
                         "model to gates, not the backbone or COCO.")
        hw = [c for c in self.checks if c.criterion == "identical"]
        gate = [c for c in hw if c.step.startswith("gate") and c.step.endswith("INT8")
                and c.ran]
        summary = f"Result: **{verdict}**."
        missing = [c.step.removesuffix(" vs INT8") for c in self.checks if not c.ran]
        if missing:
            summary += (f" **Not simulated: {', '.join(missing)}** (see the verification "
                        "steps); no agreement is claimed for them.")
        if gate:
            ok = sum(c.identical for c in gate)
            tot = sum(c.compared for c in gate)
            summary += (f" Gate-level {self.decision_unit} identical to the golden INT8 "
                        f"model: {ok} of {tot} over {len(gate)} netlist runs.")
        lines += ["", summary, "", "## Metrics" + self.tag, ""]
        keys = self.metric_keys
        tcols = " seconds | images/s |" if timing else ""
        lines.append("| level | " + " | ".join(keys) + " | images |" + tcols)
        lines.append("|---" * (len(keys) + (4 if timing else 2)) + "|")
        for lv in self.levels:
            vals = " | ".join(f"{lv.metrics[k]:.4f}" if k in lv.metrics else "–" for k in keys)
            t = f" {lv.seconds:.2f} | {_rate(lv.images_per_second)} |" if timing else ""
            lines.append(f"| {lv.label} | {vals} | {lv.n_images} |" + t)
        lines += ["", "## Verification steps", "",
                  "| step | compared | identical | agreement | criterion | status |",
                  "|---|---|---|---|---|---|"]
        for c in self.checks:
            status = "pass" if c.passed else f"**{c.status}**"
            note = f" ({c.note})" if c.note else ""
            agree = "–" if c.agreement is None else f"{100 * c.agreement:.3f} %"
            lines.append(f"| {c.step} | {c.compared} | {c.identical} | "
                         f"{agree} | {c.criterion}{note} | {status} |")
        sims = [lv for lv in self.levels if lv.level in ("rtl", "gate")]
        if sims and not timing:
            lines += ["", "## Simulation", "", "| level | cells | cycles/image |",
                      "|---|---|---|"]
            for lv in sims:
                e = lv.extra
                cells = ", ".join(f"{k} {v}" for k, v in sorted(e.get("cells", {}).items()))
                lines.append(f"| {lv.label} | {cells or '–'} | "
                             f"{e.get('cycles_per_image', 0):,.1f} |")
        elif sims:
            lines += ["", "## Simulation", "",
                      "| level | cells | synthesis s | build s | run s | cycles/image | "
                      "images/s |", "|---|---|---|---|---|---|---|"]
            for lv in sims:
                e = lv.extra
                cells = ", ".join(f"{k} {v}" for k, v in sorted(e.get("cells", {}).items()))
                lines.append(f"| {lv.label} | {cells or '–'} | {e.get('synth_seconds', 0):.1f} "
                             f"| {e.get('build_seconds', 0):.1f} | {lv.seconds:.2f} | "
                             f"{e.get('cycles_per_image', 0):,.1f} | "
                             f"{_rate(lv.images_per_second)} |")
        lines += self.sections
        if self.plots:
            lines += ["", "## Plots", ""]
            for k, p in self.plots.items():
                lines.append(f"![{k}]({p.name if hasattr(p, 'name') else p})")
        if timing:
            lines += ["", f"Total time {data['seconds']} s."]
        else:
            lines += ["", f"Times and rates of this run: `regress-{self.design}-run.json`."]
        return "\n".join(lines)
