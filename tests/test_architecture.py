"""The layers of docs/ARCHITECTURE.md, as pyproject.toml's import-linter contract states them,
and no import cycle anywhere (imports inside functions included).

The folders are installed side by side as subpackages of ``vitgates`` (package-dir), so an
editable install has no ``vitgates/`` folder that holds ``vitgates/hw``: grimp, which walks
a package's folder, would see only ``vitgates/``. Each test therefore copies the sources
into ``tmp/vitgates/<subpackage>`` as pyproject.toml maps them and analyses that copy in a
fresh interpreter whose ``PYTHONPATH`` puts it first.
"""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# Strongly connected components of the module import graph, by Tarjan's algorithm, printed
# as JSON; run in a child interpreter so that grimp finds the copied tree, not the install.
_SCC = """
import json, sys
import grimp

graph = grimp.build_graph("vitgates", include_external_packages=False, cache_dir=None)
edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
index, low, stack, on, out = {}, {}, [], set(), []

def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            out.append(sorted(comp))

sys.setrecursionlimit(10_000)
for m in sorted(edges):
    if m not in index:
        visit(m)
print(json.dumps(out))
"""


def _installed_tree(dest: Path) -> Path:
    """Copy the sources into ``dest`` laid out as installed; return ``dest``."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_dir = cfg["tool"]["setuptools"]["package-dir"]
    assert set(package_dir) == set(cfg["tool"]["setuptools"]["packages"])
    # parents first, so that a subpackage folder lands inside its parent's copy
    for pkg, src in sorted(package_dir.items(), key=lambda kv: kv[0].count(".")):
        shutil.copytree(ROOT / src, dest.joinpath(*pkg.split(".")), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _run(tree: Path, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=300)


def _lint(tree: Path) -> subprocess.CompletedProcess:
    return _run(tree, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                "sys.exit(lint_imports_command())", "--no-cache")


def _cycles(tree: Path) -> list[set[str]]:
    r = _run(tree, "-c", _SCC)
    assert r.returncode == 0, r.stderr
    return [set(c) for c in json.loads(r.stdout)]


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.fixture
def tree(tmp_path):
    return _installed_tree(tmp_path / "tree")


def test_layers_contract_kept(tree):
    r = _lint(tree)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 1 kept, 0 broken." in r.stdout


def test_no_import_cycles(tree):
    cycles = _cycles(tree)
    assert not cycles, f"import cycles: {[sorted(c) for c in cycles]}"


def test_upward_import_breaks_the_contract(tree):
    """golden importing fpga (two layers up) is reported, even inside a function."""
    _append(tree / "vitgates" / "golden" / "quant.py",
            "\n\ndef _upward():\n    from ..fpga import boards\n\n    return boards\n")
    r = _lint(tree)
    assert r.returncode != 0
    assert "vitgates.golden is not allowed to import vitgates.fpga" in r.stdout
    assert "vitgates.golden.quant -> vitgates.fpga.boards" in r.stdout


def test_cycle_inside_a_layer_is_found(tree):
    """golden.cofiber importing golden.detector, which imports it: allowed by the layers
    (both are golden), refused by the cycle check, even from inside a function."""
    _append(tree / "vitgates" / "golden" / "cofiber.py",
            "\n\ndef _cycle():\n    from . import detector\n\n    return detector\n")
    assert _lint(tree).returncode == 0
    cycles = _cycles(tree)
    assert any({"vitgates.golden.cofiber", "vitgates.golden.detector"} <= c for c in cycles)
