"""One real synthesis run through edalize and the yowasp tools, and the report it writes."""

import json
import os
import subprocess
import sys

import pytest

from vitgates.errors import VitgatesError
from vitgates.fpga.boards import get_board
from vitgates.fpga.design import DesignOptions
from vitgates.fpga.designs import get_design
from vitgates.fpga.person_design import default_person_config
from vitgates.fpga.synth import NEXTPNR_SEEDS, _reseed


def test_popcount_on_icebreaker(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "vitgates", "synth", "--board", "icebreaker",
         "--design", "popcount"],
        capture_output=True, text=True, cwd=tmp_path,
        env=dict(os.environ, VITGATES_BUILD="build"),  # the report under tmp_path
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((tmp_path / "build/reports/synth-popcount-icebreaker.json").read_text())
    for key in ("design", "board", "device", "luts", "ffs", "ebr", "spram", "dsp", "fmax_mhz",
                "target_mhz", "timing_met", "gates", "cycles_per_image"):
        assert key in rep, key
    assert rep["timing_met"] and rep["fmax_mhz"] >= rep["target_mhz"] == 48
    g = rep["gates"]
    assert g["total"] == g["AND"] + g["XOR"] + g["NOT"] <= 907
    assert rep["cycles_per_image"] == 768
    assert 0 < rep["luts"] <= 5280
    assert (tmp_path / "build/reports/synth-popcount-icebreaker.md").read_text().startswith("#")
    assert rep["bitstream"] and (tmp_path / rep["bitstream"]).stat().st_size > 0


def test_cycles_per_image_is_measured():
    opts = DesignOptions(person_config=default_person_config())
    assert get_design("sumdiff").cycles_per_image(opts, get_board("icebreaker")) == 768


def test_reseed_places_the_same_netlist_again(tmp_path):
    """A missed timing is placed and routed again with the next seed: the Makefile's seed
    changes and the placed outputs go, so make reruns nextpnr and the packer only."""
    assert NEXTPNR_SEEDS[0] == 1 and len(set(NEXTPNR_SEEDS)) == len(NEXTPNR_SEEDS) > 1
    for board, placed in (("icebreaker", (".asc", ".bin")), ("ulx3s-85f", (".config", ".bit"))):
        d = tmp_path / board
        d.mkdir()
        (d / "Makefile").write_text("x.asc: x.json\n\tnextpnr --seed 1 --json x.json\n")
        for f in ("x.json", *(f"x{e}" for e in placed), "nextpnr-report.json"):
            (d / f).write_text("")
        _reseed(d, "x", get_board(board), 1, 2)
        assert "--seed 2 --json" in (d / "Makefile").read_text()
        assert sorted(p.name for p in d.iterdir()) == ["Makefile", "x.json"]
        with pytest.raises(VitgatesError, match="cannot change the nextpnr seed"):
            _reseed(d, "x", get_board(board), 1, 3)
