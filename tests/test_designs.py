"""The synthesis designs: their names, their options, and a registry above them, not a cycle."""

import ast
import dataclasses
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from vitgates.errors import VitgatesError
from vitgates.fpga.boards import get_board
from vitgates.fpga.design import DesignOptions, SynthResult
from vitgates.fpga.designs import DESIGNS, get_design
from vitgates.fpga.person_design import default_person_config

#: the modules that define designs, and the list above them
DESIGN_MODULES = ("person_design", "detector_design", "board_design")
REGISTRY = "vitgates.fpga.designs"


def _imports(module: str) -> set[str]:
    """Every module ``module``'s source imports, anywhere in it (functions included)."""
    path = Path(importlib.util.find_spec(module).origin)
    package = module.rsplit(".", 1)[0].split(".")
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            mod = ".".join(filter(None, [base, node.module]))
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # from . import x
    return out


def test_the_designs():
    assert set(DESIGNS) == {"popcount", "sumdiff", "detector", "board"}
    assert all(get_design(n).name == n for n in DESIGNS)
    with pytest.raises(VitgatesError, match="unknown design 'nope'"):
        get_design("nope")


def test_design_type_imports_no_design():
    """``Design`` and its options live below the designs: that module imports none of them,
    nor the registry; no design imports the registry (the registry imports them)."""
    designs = {f"vitgates.fpga.{m}" for m in DESIGN_MODULES}
    assert not _imports("vitgates.fpga.design") & (designs | {REGISTRY})
    for m in designs:
        assert REGISTRY not in _imports(m), m
    assert designs <= _imports(REGISTRY)


def test_design_type_loads_alone():
    code = ("import sys, vitgates.fpga.design; "
            "print(' '.join(m for m in sys.modules if m.startswith('vitgates.fpga.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(r.stdout.split())
    assert "vitgates.fpga.design" in loaded
    assert not loaded & {REGISTRY, *(f"vitgates.fpga.{m}" for m in DESIGN_MODULES)}, loaded


def test_options_are_typed_and_frozen():
    opts = DesignOptions(person_config=default_person_config())
    assert (opts.config, opts.form, opts.baud, opts.holds) == (None, "popcount", 3_000_000, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.baud = 9600


def test_synth_result():
    board = get_board("icebreaker")
    r = SynthResult(design="detector", board=board,
                    cells_by_type={"SB_LUT4": 10, "ICESTORM_DSP": 8, "SB_MAC16": 1},
                    luts=10, ffs=0, ebr=0, spram=0, dsp=1, carries=0, fmax_mhz=29.9,
                    target_mhz=30.0, utilisation={}, gates=None, cycles_per_image=None,
                    workdir=Path("."), bitstream=None, seconds_synth_pnr=1.0)
    assert not r.timing_met and dataclasses.replace(r, fmax_mhz=30.0).timing_met
    assert not dataclasses.replace(r, fmax_mhz=None).timing_met
    assert r.cell_count("ICESTORM_DSP", "SB_MAC16") == 9 and r.cell_count("SB_CARRY") == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.luts = 0


@pytest.mark.parametrize("bad, message", [
    ({"form": "majority"}, "--form must be one of popcount, sumdiff, got 'majority'"),
    ({"baud": 0}, "--baud must be positive, got 0"),
    ({"baud": -9600}, "--baud must be positive, got -9600"),
    ({"holds": "all"}, "--holds must be one of both, person, detector, got 'all'"),
])
def test_malformed_options_are_one_line(bad, message):
    with pytest.raises(VitgatesError) as e:
        DesignOptions(person_config=default_person_config(), **bad)
    assert str(e.value) == message and "\n" not in str(e.value)


def test_hooks_take_options_and_board():
    opts = DesignOptions(person_config=default_person_config(), form="sumdiff")
    board = get_board("icebreaker")
    # the person designs build their own form; ``form`` is the board's person core
    assert get_design("popcount").top(opts, board).form == "popcount"
    assert get_design("board").target_mhz_for(opts, board) > 0
