"""Reference vectors: written once, re-derivable from the golden models."""

import json

import numpy as np
from safetensors.numpy import load_file

from vitgates.cli import main
from vitgates.golden.person import ref_popcount, ref_sumdiff, select
from vitgates.golden.person_config import PersonConfig
from vitgates.golden.quant import quantize
from vitgates.golden.reference_vectors import person_edge_rows, sumdiff_rows_ok


def test_person_vectors_cli(tmp_path, capsys):
    assert main(["vectors", "person", "-n", "64", "--out", str(tmp_path)]) == 0
    assert "[synthetic]" in capsys.readouterr().out
    meta = json.loads((tmp_path / "person.json").read_text())
    vec = load_file(str(tmp_path / "person.safetensors"))
    cfg = PersonConfig.from_dict(meta["config"])
    assert meta["synthetic"] and meta["n_data"] == 64
    assert np.array_equal(vec["q"], quantize(vec["features"], cfg.scale))
    x40 = vec["x40"]
    assert np.array_equal(x40[:64], select(vec["q"], cfg))
    assert np.array_equal(vec["sumdiff"].astype(bool), ref_sumdiff(x40, cfg))
    assert np.array_equal(vec["popcount_decision"].astype(bool), ref_popcount(x40, cfg))
    assert "float_decision" in vec and meta["int8_vs_float_agreement"] > 0.95


def test_edge_rows_straddle_the_threshold(person_config):
    rows = person_edge_rows(person_config)
    assert rows.dtype == np.int8 and rows.shape[1] == 40
    assert sumdiff_rows_ok(rows, person_config)


def test_detector_vectors_cli(tmp_path, capsys):
    from vitgates.golden.detector import ref_detect
    from vitgates.golden.detector_head import load_head

    assert main(["vectors", "detector", "-n", "1", "--out", str(tmp_path)]) == 0
    assert "[synthetic]" in capsys.readouterr().out
    meta = json.loads((tmp_path / "detector.json").read_text())
    vec = load_file(str(tmp_path / "detector.safetensors"))
    head = load_head(tmp_path / "detector-head.safetensors")
    assert meta["synthetic"] and meta["n_grids"] == 1
    assert np.array_equal(vec["q"], quantize(vec["grid"], head.feature_scale))
    d = ref_detect(vec["q"][0], head)
    rows = vec["detections"]
    assert len(rows) == len(d) == meta["n_detections"] > 0
    assert np.array_equal(rows[:, 0], np.zeros(len(d)))
    for j, k in enumerate(("band", "y", "x", "cls", "acc"), start=1):
        assert np.array_equal(rows[:, j], d[k])
    assert np.array_equal(rows[:, 6:], d["box"])
    # every INT8 decision that fired is one of the detections, and no other
    fired = sum(int(vec[f"int8_band{b}"].sum()) for b in range(3))
    assert fired == len(d)
    assert meta["int8_vs_float_agreement"] >= 0.997


def test_detector_vectors_refuse_zero_grids(tmp_path, capsys):
    assert main(["vectors", "detector", "-n", "0", "--out", str(tmp_path)]) == 2
    assert "-n must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "detector.json").exists()
