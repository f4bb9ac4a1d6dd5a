"""The regression: does the synthesised circuit still decide as the float model does?

For each design (the person classifier's ``popcount`` and ``sumdiff`` forms, and the cofiber
detector where it is built) the same data go through every level: golden float, golden
INT8, RTL simulation and gate-level simulation of the iCE40, ECP5 and generic netlists
(for the detector by default the generic-dsp and generic ones, sim/netlist.py), Verilator
on every image and Icarus on the first few where installed. Each level's metric
(F1, precision, recall; mAP, mAP@0.50, mAP@0.75 through pycocotools), its images per
second and the agreement between levels go to ``build/reports/regress-<design>.json`` and
``.md`` with PNG plots beside them (docs/regress.md, docs/reports.md).

Without ``--features`` the data are the embedded synthetic feature world, and every printed
line and report says so. The command exits 1 when any verification step fails (a hardware
level that differs from the golden INT8 model in a single decision, or INT8 losing more
than ``--max-metric-drop`` of the float metric) or could not be run (a netlist that cannot
be simulated is reported ``NOT RUN``, never as a pass), after writing the reports.
"""

from __future__ import annotations

import time

from ..errors import VitgatesError
from ..fileio import atomic_write_json
from ..fpga.person_design import default_person_config
from ..golden.person_config import load_person_config
from ..reports import reports_dir, write_report
from ..sim.gatelevel import sim_levels
from ..sim.netlist import DEFAULT_FAMILIES, FAMILIES
from ..sim.runner import SIMULATORS
from .cluster import local_workers, open_client
from .detector import DETECTOR_DESIGNS, regress_detector
from .detector import available as detector_available
from .person import load_float_threshold, load_pooled, regress_person
from .report import progress
from .shards import ShardRunner, file_fingerprint

__all__ = ["DETECTOR_NETLISTS", "LEVELS", "PERSON_DESIGNS", "SHARD_SIZES", "available_designs",
           "run_regression"]

PERSON_DESIGNS = ("popcount", "sumdiff")
#: the detector's gate-level netlists when none are named (see the note in
#: :func:`run_regression`)
DETECTOR_NETLISTS = ("generic-dsp", "generic")
LEVELS = ("float", "int8", "rtl", "gate")
#: images per shard of the person classifier, frames per shard of the detector, when
#: ``--shard-images`` and ``--shard-frames`` are not given (a person shard is seconds per
#: level, a detector frame at gate level tens of seconds)
SHARD_SIZES = {"images": 500, "frames": 1}


def _detector_available() -> bool:
    return detector_available()


def available_designs() -> list[str]:
    """The designs this installation can regress."""
    out = list(PERSON_DESIGNS)
    if _detector_available():
        out += list(DETECTOR_DESIGNS)
    return out


def _csv(value: str, known, what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in known]
    if bad or not items:
        raise VitgatesError(f"--{what}: unknown {', '.join(bad) or 'empty list'} "
                            f"(known: {', '.join(known)})")
    return items


def _designs(spec: str) -> list[str]:
    avail = available_designs()
    if spec == "all":
        return avail
    if spec == "person":
        return list(PERSON_DESIGNS)
    if spec == "detector":
        det = [d for d in avail if d not in PERSON_DESIGNS]
        if not det:
            raise VitgatesError("the cofiber detector is not part of this installation yet")
        return det
    names = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [s for s in names if s not in avail]
    if bad:
        raise VitgatesError(f"unknown design {', '.join(bad)} (known: {', '.join(avail)})")
    return names


def _check_options(args) -> None:
    for k in ("pause_in", "pause_out"):
        v = getattr(args, k)
        if not 0 <= v < 1:
            raise VitgatesError(f"--{k.replace('_', '-')} must be in [0, 1), got {v}")
    for k in ("images", "detector_images"):
        v = getattr(args, k)
        if v is not None and v < 1:
            raise VitgatesError(f"--{k.replace('_', '-')} must be at least 1")
    if args.icarus_images < 0 or args.detector_icarus_images < 0:
        raise VitgatesError("--icarus-images and --detector-icarus-images must be at least 0")
    if not 0 < args.score_thresh < 1:
        raise VitgatesError(f"--score-thresh must lie in (0, 1), got {args.score_thresh}")
    if args.annotations and not args.features:
        raise VitgatesError("--annotations needs --features (the cache of those images)")
    for k in ("workers", "shard_images", "shard_frames"):
        v = getattr(args, k, None)
        if v is not None and v < 1:
            raise VitgatesError(f"--{k.replace('_', '-')} must be at least 1, got {v}")
    sched = getattr(args, "scheduler", None)
    if sched is not None and "://" not in sched:
        raise VitgatesError(f"--scheduler: expected tcp://HOST:PORT, got {sched!r}")


def _runner(args, prog) -> ShardRunner:
    """The shards of this run: their sizes, and the cluster they run on."""
    sched = getattr(args, "scheduler", None)
    workers = getattr(args, "workers", None)
    sizes = {"images": getattr(args, "shard_images", None) or SHARD_SIZES["images"],
             "frames": getattr(args, "shard_frames", None) or SHARD_SIZES["frames"]}
    return ShardRunner(sizes, lambda: open_client(sched, workers), inline=sched is None,
                       fresh=getattr(args, "fresh", False), prog=prog,
                       say=prog.console.print)


def _write(design: str, reg, runner: ShardRunner, args) -> dict:
    """The deterministic report (``regress-<design>.json``, ``.md``: the same bytes for
    the same inputs, however many workers ran it) and how this run went
    (``regress-<design>-run.json``: times, rates, workers, hosts, shards)."""
    rep = reg.report(timing=False)
    write_report(f"regress-{design}", rep, reg.markdown(rep, timing=False))
    sched = getattr(args, "scheduler", None)
    run = {"scheduler": sched or "local",
           "workers": getattr(args, "workers", None) or (None if sched else local_workers()),
           **runner.runs.get(f"regress-{design}", {})}
    atomic_write_json(reports_dir() / f"regress-{design}-run.json", reg.run_report(**run))
    return rep


def _summary(design: str, reg, data: dict) -> str:
    tag = " (synthetic)" if reg.synthetic else ""
    top = reg.top_level()
    keys = reg.metric_keys
    metrics = ", ".join(f"{k} {top.metrics[k]:.4f}" for k in keys if k in top.metrics)
    hw = [c for c in reg.checks if c.criterion == "identical" and c.step.endswith("INT8")
          and c.ran]
    agree = (f"; hardware vs INT8 identical in {sum(c.identical for c in hw)} of "
             f"{sum(c.compared for c in hw)} {reg.decision_unit} over {len(hw)} runs"
             ) if hw else ""
    fv = data.get("int8_vs_float_agreement")
    fl = f"; INT8 vs float {100 * fv:.2f} %" if fv is not None else ""
    missing = [c.step.removesuffix(" vs INT8") for c in reg.checks if not c.ran]
    nr = f"; NOT SIMULATED: {', '.join(missing)}" if missing else ""
    return f"{design}{tag}: {top.label} {metrics}{agree}{fl}{nr}: {reg.verdict}"


def _say_failures(prog, design: str, reg) -> None:
    """A line per failed step, with its shard and first differing item."""
    for c in reg.checks:
        if c.ran and not c.passed:
            prog.console.print(f"{design}: {c.step} FAILED: {c.note}")


def run_regression(args) -> int:
    """Run the regression ``args`` (the options of :mod:`vitgates.commands.regress`) asks
    for; write the reports; 0 when every design passed, else 1."""
    _check_options(args)
    designs = _designs(args.design)
    levels = _csv(args.levels, LEVELS, "levels")
    netlists = _csv(args.netlists or ",".join(DEFAULT_FAMILIES), FAMILIES, "netlists")
    simulators = _csv(args.simulators, SIMULATORS, "simulators")
    sims = sim_levels(levels, netlists, simulators)
    if args.icarus_images == 0:
        sims = [s for s in sims if s.simulator != "icarus"]
    det_notes = []
    if args.netlists is None and "gate" in levels:
        # by default the detector's gate level is the generic-dsp netlist at the wide
        # simulation folding (~7 s per frame) and the all-gates generic netlist at the
        # gate-level folding (4,4,4: ~39k cells, ~30 s per frame); the vendor netlists only
        # when named
        det_sims = sim_levels(levels, DETECTOR_NETLISTS, simulators)
        det_notes.append(
            "By default the detector's gate level is two netlists: `generic-dsp` (yosys "
            "gates, with the 384 multipliers as hard multiplier cells and registers as "
            "multi-bit flip-flop cells) at the wide simulation folding that RTL runs, and "
            "`generic` (every multiplier in gates too) at the narrower gate-level folding "
            "(`--detector-gate-folding`, default 4,4,4): at the wide folding the all-gates "
            "netlist is about 204k cells and the iCE40 one about 100 MB of C++, which "
            "Verilator compiles for longer than a regression should take; the decisions "
            "compared are the same at any folding. `--netlists ice40,generic` runs the iCE40 "
            "netlist too, and `--netlists ecp5,generic` the ECP5 one (its DP16KD and "
            "MULT18X18D cells through the project's models in sim/models/ecp5/, "
            "docs/regress.md); neither is in the default run yet.")
    else:
        det_sims = sim_levels(levels, netlists, simulators)
    failed = []
    person = [d for d in designs if d in PERSON_DESIGNS]
    detector = [d for d in designs if d not in PERSON_DESIGNS]
    if "float" not in levels or "int8" not in levels:
        raise VitgatesError("--levels must include float and int8 (the references)")
    if args.design == "all" and not _detector_available():
        print("detector: NOT AVAILABLE in this installation (no cofiber detector hardware "
              "or integer model); only the person classifier is regressed")
    with progress() as prog:
        runner = _runner(args, prog)
        if person:
            cfg = (load_person_config(args.person_config) if args.person_config
                   else default_person_config())
            theta = load_float_threshold(cfg, args.person_float)
            data = load_pooled(args.features, args.annotations, args.images, args.data_seed)
            if data.features.shape[1] != cfg.feature_dim:
                raise VitgatesError(f"features have {data.features.shape[1]} dimensions, the "
                                    f"config expects {cfg.feature_dim}")
            data_opts = {"features": args.features, "annotations": args.annotations,
                         "images": args.images, "data_seed": args.data_seed,
                         "content": [file_fingerprint(args.features),
                                     file_fingerprint(args.annotations)]}
            for form in person:
                t0 = time.monotonic()
                reg = regress_person(form, data, cfg, theta, sims, opts=args, prog=prog,
                                     runner=runner, data_opts=data_opts)
                reg.t0 = t0
                rep = _write(form, reg, runner, args)
                prog.console.print(_summary(form, reg, rep))
                _say_failures(prog, form, reg)
                if not reg.passed:
                    failed.append(form)
        for design in detector:
            t0 = time.monotonic()
            reg = regress_detector(design, det_sims, opts=args, prog=prog, notes=det_notes,
                                   runner=runner)
            reg.t0 = t0
            rep = _write(design, reg, runner, args)
            prog.console.print(_summary(design, reg, rep))
            _say_failures(prog, design, reg)
            if not reg.passed:
                failed.append(design)
    if failed:
        print(f"regression did not pass: {', '.join(failed)}")
        return 1
    return 0
