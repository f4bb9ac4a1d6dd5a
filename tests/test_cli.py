"""The command line: bad input is one line on stderr and exit status 2, never a traceback."""

import json
import subprocess
import sys

import pytest

from vitgates.golden.person_config import save_person_config

from conftest import random_person_config


def vitgates(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vitgates", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_config_check_ok(tmp_path):
    p = save_person_config(random_person_config(0), tmp_path / "ok.json")
    r = vitgates("person-config", "check", p)
    assert r.returncode == 0, r.stderr
    assert "ok: 20+20 dims" in r.stdout


@pytest.mark.parametrize("mutate", [
    lambda d: d["pos_dims"].pop(),
    lambda d: d["neg_dims"].__setitem__(2, 900),
    lambda d: d["dim_thresholds"].__setitem__(0, 300),
    lambda d: d.pop("K"),
])
def test_config_check_malformed(tmp_path, mutate):
    d = random_person_config(0).to_dict()
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    r = vitgates("person-config", "check", p)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vitgates: error: "), r.stderr
    assert "Traceback" not in r.stderr


def test_synth_refuses_bad_config_before_running_tools(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{}")
    r = vitgates("synth", "--board", "icebreaker", "--design", "popcount", "--config", p,
                 cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("vitgates: error: ") and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "build" / "reports").exists()


@pytest.mark.parametrize("option", [("--baud", "0"), ("--baud", "-9600")])
def test_synth_refuses_bad_options_before_running_tools(tmp_path, option):
    r = vitgates("synth", "--board", "icebreaker", "--design", "board", *option, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"vitgates: error: --baud must be positive, got {option[1]}\n"
    assert not (tmp_path / "build").exists()


def test_derive(tmp_path):
    f = {"pos_dims": list(range(20)), "neg_dims": list(range(20, 40)), "threshold": 1.234,
         "scale": 0.01, "dim_thresholds": [0.05] * 20 + [-0.05] * 20, "K": 25}
    src = tmp_path / "float.json"
    src.write_text(json.dumps(f))
    r = vitgates("person-config", "derive", src, "-o", tmp_path / "int.json")
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "int.json").read_text())
    assert d["T"] == 123 and d["dim_thresholds"][0] == 5 and d["dim_thresholds"][20] == -5
    f.pop("threshold")
    src.write_text(json.dumps(f))
    r = vitgates("person-config", "derive", src, "-o", tmp_path / "int2.json")
    assert r.returncode == 2 and "missing field 'threshold'" in r.stderr
    assert not (tmp_path / "int2.json").exists()
