"""Speed of the regression's simulations: RTL and gate level, per netlist and simulator.

    python benchmarks/bench_regress.py [--images 5000] [--forms popcount,sumdiff]
                                       [--netlists ice40,ecp5,generic] [--cold] [--sweep]
                                       [--cocotb 20] [--detector-frames 1]
                                       [--detector-netlists generic-dsp]
                                       [--detector-threads 1]
                                       [--workers 1,2 [--workers-frames 4]]

For each person-classifier form and level: netlist synthesis, simulator build and the run
of ``--images`` pooled images (768 bytes each, the regression's stimulus with its stalls),
as seconds, images per second and cycles per second, and whether the decisions equal the
golden INT8 model; also the CPU seconds of the child processes (the time on an idle core,
whatever else the machine runs). ``--cold`` builds in a fresh folder (nothing cached but Verilator's
runtime objects); without it, what is cached is reused, as a second ``vitgates regress``
would. ``--sweep`` rebuilds the iCE40 gate level under other Verilator options (C++
optimisation, threads) to show where the time goes. ``--cocotb N`` runs N images through
the cocotb bench (a Python coroutine per clock edge) for comparison. ``--detector-frames``
times 40×40×768 frames through the detector at its wide simulation folding: RTL, then each
``--detector-netlists`` netlist (default ``generic-dsp``) at each ``--detector-threads``
count (Verilator ``--threads``; the per-cycle C++ at -O1, as the regression builds it).
``--workers 1,2`` runs ``vitgates regress`` on the detector's gate level (the
``--detector-netlists`` netlist, ``--workers-frames`` frames, one frame per shard) on a
local Dask cluster of each number of workers, after one run that builds the simulator: frames
per second of the sharded phase per worker count, the speed-up over the first, and whether
the reports are byte-identical. All inputs are SYNTHETIC.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from vitgates.paths import BUILD_ENV, build_root

__all__ = ["main"]


def _child_cpu() -> float:
    """CPU seconds of the finished child processes (yosys, the compiler, the simulation):
    the wall time they would take on an idle core, whatever else the machine runs."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _row(*cols):
    print("  ".join(f"{c:>14}" if i else f"{c:<28}" for i, c in enumerate(cols)))


def _person(args):
    from vitgates.features.synthetic import pooled_dataset
    from vitgates.fpga.person_design import PERSON_PIPELINE, default_person_config
    from vitgates.golden.person import ref_popcount, ref_sumdiff, select
    from vitgates.golden.quant import quantize
    from vitgates.hw.person_classifier import PersonClassifier
    from vitgates.sim.gatelevel import SimLevel, design_verilog, prepare_harness
    from vitgates.sim.harness import Stream

    cfg = default_person_config()
    q = quantize(pooled_dataset(n=args.images).features, cfg.scale)
    x40 = select(q, cfg)
    stream = q.reshape(-1)
    print(f"person classifier, {args.images} synthetic pooled images "
          f"({args.images * cfg.feature_dim:,} bytes streamed), stalls in 0.05 / out 0.5")
    _row("level", "synth s", "build s", "run s", "images/s", "Mcycles/s", "identical",
         "run cpu s", "all cpu s")
    totals, cpu = {}, {}
    for form in args.forms:
        want = {"popcount": ref_popcount, "sumdiff": ref_sumdiff}[form](x40, cfg)
        verilog = design_verilog(PersonClassifier(cfg, form=form,
                                                  pipeline=PERSON_PIPELINE[form]),
                                 f"bench-{form}")
        levels = [SimLevel("rtl", None, "verilator")]
        levels += [SimLevel("gate", f, "verilator") for f in args.netlists]
        for lv in levels:
            t0, c0 = time.monotonic(), _child_cpu()
            h, net = prepare_harness(lv, verilog, f"bench-{form}", [Stream("i", 8)],
                                     Stream("o", 1))
            prep, c1 = time.monotonic() - t0, _child_cpu()
            r = h.run([stream], expect=args.images, pause_in=0.05, pause_out=0.5, seed=1)
            c2 = _child_cpu()
            same = int(np.sum(np.asarray(r.outputs, bool) == want))
            synth = net.seconds if net else 0.0
            build = h.build_seconds if h.rebuilt else 0.0
            _row(f"{form} {lv.label}", f"{synth:.1f}", f"{build:.1f}", f"{r.seconds:.2f}",
                 f"{args.images / r.seconds:,.0f}", f"{r.cycles / r.seconds / 1e6:.2f}",
                 f"{same}/{args.images}", f"{c2 - c1:.2f}", f"{c2 - c0:.1f}")
            totals[(form, lv.key)] = prep + r.seconds
            cpu[(form, lv.key)] = c2 - c0
            if same != args.images:
                print("  MISMATCH against the golden INT8 model")
                return 1
    for form in args.forms:
        for f in args.netlists:
            t = totals[(form, f"gate-{f}-verilator")]
            c = cpu[(form, f"gate-{f}-verilator")]
            print(f"{form}: {args.images} images through the {f} netlist, synthesis + build "
                  f"+ run: {t:.1f} s wall, {c:.1f} s of CPU")
    return 0


def _sweep(args):
    from vitgates.features.synthetic import pooled_dataset
    from vitgates.fpga.person_design import PERSON_PIPELINE, default_person_config
    from vitgates.golden.quant import quantize
    from vitgates.hw.person_classifier import PersonClassifier
    from vitgates.sim.gatelevel import SimLevel, design_verilog, prepare_harness
    from vitgates.sim.harness import Stream

    cfg = default_person_config()
    stream = quantize(pooled_dataset(n=args.images).features, cfg.scale).reshape(-1)
    form = args.forms[-1]
    verilog = design_verilog(PersonClassifier(cfg, form=form, pipeline=PERSON_PIPELINE[form]),
                             f"bench-sweep-{form}")
    print(f"\nVerilator options, {form} iCE40 netlist:")
    _row("options", "build s", "run s", "images/s")
    for label, opts in (("-O0 model", {"opt_fast": "-O0"}),
                        ("-O1 model", {"opt_fast": "-O1"}),
                        ("-O2 model (default)", {"opt_fast": "-O2"}),
                        ("-O3 model", {"opt_fast": "-O3"}),
                        ("-O2, --threads 2", {"opt_fast": "-O2", "threads": 2})):
        lv = SimLevel("gate", "ice40", "verilator")
        h, _ = prepare_harness(lv, verilog, f"bench-sweep-{form}{label.split()[0]}"
                               f"{opts.get('threads', 1)}", [Stream("i", 8)], Stream("o", 1),
                               **opts)
        r = h.run([stream], expect=args.images, pause_in=0.05, pause_out=0.5, seed=1)
        _row(label, f"{h.build_seconds:.1f}", f"{r.seconds:.2f}",
             f"{args.images / r.seconds:,.0f}")


def _cocotb(args):
    from vitgates.fpga.person_design import PERSON_PIPELINE, default_person_config
    from vitgates.hw.person_classifier import PersonClassifier
    from vitgates.sim.runner import build_dir, run_cocotb, write_verilog
    from vitgates.sim.vectors import pooled_vectors

    cfg = default_person_config()
    d = build_dir("bench-cocotb-unit", "verilator")
    vec = d / "pooled.npy"
    np.save(vec, pooled_vectors(cfg, args.cocotb, seed=4))
    src = write_verilog(PersonClassifier(cfg, form="popcount",
                                         pipeline=PERSON_PIPELINE["popcount"]), d / "top.v")
    kw = dict(name="bench-cocotb-unit", sources=[src], toplevel="top",
              test_module="vitgates.sim.tb_person", testcase="unit", simulator="verilator",
              args={"config": cfg.to_dict(), "form": "popcount", "vectors": str(vec),
                    "pause_in": 0.05, "pause_out": 0.5, "seed": 1})
    run_cocotb(**kw)  # build
    t = time.monotonic()
    run_cocotb(**kw)
    s = time.monotonic() - t
    print(f"\ncocotb unit bench (RTL, Verilator, a coroutine per edge): {args.cocotb} images "
          f"in {s:.1f} s = {args.cocotb / s:,.1f} images/s (includes the rebuild check and "
          "simulator start)")


def _detector(args):
    try:
        from vitgates.regress import detector as regress_detector
    except ImportError:
        print("\ndetector: not built yet (vitgates.regress.detector missing)")
        return 0
    if not regress_detector.available():
        print("\ndetector: not built yet")
        return 0
    nets = [f for f in args.detector_netlists.split(",") if f]
    if "ecp5" in nets:
        print("\ndetector: the ECP5 netlist is left out (yosys ships DP16KD and MULT18X18D "
              "as black boxes: it cannot be simulated)")
    threads = [int(t) for t in args.detector_threads.split(",") if t]
    return regress_detector.benchmark(args.detector_frames, [f for f in nets if f != "ecp5"],
                                      threads=threads)


def _workers(args) -> int:
    """The detector's gate level on 1, 2, ... local workers: frames/s and speed-up."""
    import json

    from vitgates.cli import main as vitgates
    from vitgates.reports import reports_dir

    counts = [int(w) for w in args.workers.split(",") if w]
    frames = args.workers_frames
    base = ["regress", "--design", "detector", "--levels", "float,int8,gate", "--netlists",
            args.detector_netlists, "--simulators", "verilator", "--shard-frames", "1",
            "--fresh"]
    print(f"\ndetector gate level ({args.detector_netlists}), {frames} synthetic frames, one "
          f"per shard, local Dask cluster; {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")
    t = time.monotonic()
    vitgates([*base, "--detector-images", "1", "--workers", "1"])  # builds, not timed
    print(f"build (not timed): {time.monotonic() - t:.0f} s")
    rows, reports, rc = [], [], 0
    for w in counts:
        rc |= vitgates([*base, "--detector-images", str(frames), "--workers", str(w)])
        d = reports_dir()
        run = json.loads((d / "regress-detector-run.json").read_text())
        reports.append(((d / "regress-detector.json").read_bytes(),
                        (d / "regress-detector.md").read_bytes()))
        fps = frames / run["shard_seconds"]
        gate = sum(lv.get("seconds", 0) for lv in run["levels"] if lv["label"].startswith("gate"))
        rows.append((w, run["shard_seconds"], fps, gate))
    print(f"{'workers':>8}{'wall s':>9}{'frames/s':>10}{'speed-up':>10}"
          f"{'gate sim s, all shards':>24}")
    for w, sec, fps, gate in rows:
        print(f"{w:>8}{sec:>9.1f}{fps:>10.4f}{fps / rows[0][2]:>10.2f}{gate:>24.1f}")
    same = all(r == reports[0] for r in reports)
    print(f"reports byte-identical across worker counts: {'yes' if same else 'NO'}")
    return rc | (not same)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--forms", default="popcount,sumdiff")
    ap.add_argument("--netlists", default="ice40,ecp5,generic")
    ap.add_argument("--cold", action="store_true", help="build in a fresh folder")
    ap.add_argument("--sweep", action="store_true", help="compare Verilator options")
    ap.add_argument("--cocotb", type=int, default=0, help="images through the cocotb bench")
    ap.add_argument("--detector-frames", type=int, default=1)
    ap.add_argument("--detector-netlists", default="generic-dsp",
                    help="detector netlists at the wide folding (generic or ice40 there take "
                    "10 minutes or more to build)")
    ap.add_argument("--detector-threads", default="1",
                    help="Verilator --threads of the detector's gate-level runs")
    ap.add_argument("--skip-person", action="store_true")
    ap.add_argument("--workers", default="",
                    help="worker counts of a sharded detector gate-level run, e.g. 1,2")
    ap.add_argument("--workers-frames", type=int, default=4,
                    help="frames of the --workers runs (default 4)")
    args = ap.parse_args(argv)
    args.forms = [f for f in args.forms.split(",") if f]
    args.netlists = [f for f in args.netlists.split(",") if f]
    if args.cold:
        os.environ[BUILD_ENV] = tempfile.mkdtemp(prefix="vitgates-bench-")
    build = build_root()
    print(f"all inputs are synthetic; build folder {build}; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    rc = 0 if args.skip_person else _person(args)
    if args.sweep:
        _sweep(args)
    if args.cocotb:
        _cocotb(args)
    if args.detector_frames > 0:
        rc = rc or _detector(args)
    if args.workers:
        rc = rc or _workers(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
