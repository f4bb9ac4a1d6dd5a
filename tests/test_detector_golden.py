"""The integer cofiber detector (golden/detector.py, golden/detector_head.py): arithmetic,
float-to-integer conversion, INT8-vs-float agreement and the weight file."""

import math
from fractions import Fraction

import numpy as np
import pytest
from safetensors.numpy import save

from vitgates.errors import VitgatesError
from vitgates.golden import detector as gd
from vitgates.golden.cofiber import band_order, cofiber_bands
from vitgates.golden.detector_float import handover
from vitgates.golden.detector_head import (
    DetectorHeadError,
    Int8DetectorHead,
    acc_bits,
    acc_range,
    band_acc_bits,
    load_head,
    save_head,
)


def _grids(n, shape, seed=0, saturate=False):
    rng = np.random.default_rng(seed)
    if saturate:
        return [rng.choice(np.array([-128, 127], np.int8), shape) for _ in range(n)]
    return [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(n)]


@pytest.fixture(scope="module")
def small():
    grids = _grids(3, (8, 8, 16), seed=1)
    return grids, gd.random_head(16, 6, 4, seed=2, grids=grids, fire=0.2)


def test_accumulators_by_linearity_equal_those_on_the_bands(small):
    grids, head = small
    for q in grids + _grids(2, (8, 8, 16), seed=3, saturate=True):
        a = gd.accumulators(q, head)
        b = gd.accumulators_via_grid(q, head)
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y)
        # and both equal the exact integer products, in Python integers
        bands = cofiber_bands(q)
        w = head.weight.astype(object)
        for band, acc in zip(bands, a, strict=True):
            assert np.array_equal(band.astype(object) @ w.T, acc.astype(object))


def test_accumulator_widths_and_ranges():
    assert acc_bits(768) == 25 and band_acc_bits(768) == 30
    assert acc_range(768, 0) == (-75_202_560, 75_202_560)
    assert acc_range(768, 1) == (-300_810_240, 300_810_240)
    assert acc_range(768, 2) == (-199_753_728, 201_326_592)
    for b in range(3):
        lo, hi = acc_range(768, b)
        assert -(1 << 29) <= lo - 1 and hi < (1 << 29)
    # extreme weights on saturated grids stay inside the ranges (and reach band 2's top)
    w = np.full((1, 16), -128, np.int8)
    head = Int8DetectorHead(weight=w, thresholds=np.zeros((3, 1), np.int64),
                            weight_scale=np.ones(1), bias=np.zeros(1), feature_scale=1.0)
    a = gd.accumulators(np.full((4, 4, 16), -128, np.int8), head)
    assert a[2].item() == acc_range(16, 2)[1]


def test_ref_detect_records_and_order(small):
    grids, head = small
    K, B = head.n_classes, head.box_rows
    q = grids[0]
    dets = gd.ref_detect(q, head)
    accs = gd.accumulators(q, head)
    fired = sum(int(d.sum()) for d in gd.decisions(accs, head))
    assert len(dets) == fired > 0
    assert set(dets["band"].tolist()) == {0, 1, 2}
    for d in dets:
        a = accs[d["band"]][d["y"], d["x"]]
        assert d["acc"] == a[d["cls"]] > head.thresholds[d["band"], d["cls"]]
        assert np.array_equal(d["box"], a[K:K + B])
    pos = {tuple(r): n for n, r in enumerate(band_order(8, 8).tolist())}
    keys = [(pos[(int(d["band"]), int(d["y"]), int(d["x"]))], int(d["cls"])) for d in dets]
    assert keys == sorted(keys)


def test_ties_do_not_fire(small):
    grids, head = small
    q = grids[0]
    acc = gd.accumulators(q, head)[0]
    t = head.thresholds.copy()
    t[0, 0] = acc[0, 0, 0]
    tied = Int8DetectorHead(weight=head.weight, thresholds=t, weight_scale=head.weight_scale,
                            bias=head.bias, feature_scale=1.0)
    assert not gd.decisions(gd.accumulators(q, tied), tied)[0][0, 0, 0]
    tied.thresholds[0, 0] -= 1
    assert gd.decisions(gd.accumulators(q, tied), tied)[0][0, 0, 0]


def test_thresholds_reproduce_the_float_rule_exactly():
    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.05, (84, 32))
    b = rng.normal(-3, 1, 84)
    head = gd.quantize_head(w, b, 0.037, 0.3)
    K = head.n_classes
    for band in range(3):
        for k in rng.choice(K, 12, replace=False):
            T = int(head.thresholds[band, k])
            for acc in (T - 1, T, T + 1):
                assert gd.float_rule_exact(acc, band, int(k), head) == (acc > T)


def test_threshold_derivation_is_exact_rational():
    # (t − bias) / (s_w·s_x·f_b) lands exactly on an integer: T is that integer (no fire)
    t = gd.score_logit(0.5)  # 0.0
    T = gd.derive_thresholds([-3.0], [0.5], 0.25, 0.5, 16)
    assert t == 0.0 and T[0, 0] == math.floor(Fraction(3) / (Fraction(1, 8) * Fraction(1, 4)))
    assert T[:, 0].tolist() == [96, 384, 384]


def test_handover_conversion_and_agreement_on_synthetic_data():
    """INT8 decisions equal the float decisions on >= 99.7 % (the seed's figure) of
    (image, band, location, class) on the embedded synthetic grid world (SYNTHETIC)."""
    from vitgates.features.synthetic import grid_dataset
    from vitgates.golden.detector_float import choose_feature_scale

    fh = gd.lstsq_head(grid_dataset(n_images=32, seed=0, first_id=100_001))
    test = grid_dataset(n_images=6, seed=0)
    grids = [test.grid(int(i)) for i in test.image_ids]
    fs = choose_feature_scale(np.stack(grids[:3]))
    head = gd.head_from_handover(handover(fh, fs), 0.05)
    assert head.rows == 84 and head.n_classes == 80 and head.box_rows == 4
    assert head.meta["source"] == "float handover"
    r = gd.decision_agreement(fh, head, grids)
    print(f"synthetic INT8-vs-float agreement: {r}")
    assert r["decisions"] == 6 * 80 * (1600 + 400 + 100)
    assert r["agreement"] >= 0.997
    assert r["float_fired"] > 0 and r["positive_jaccard"] >= 0.8
    with pytest.raises(ValueError, match="band factors"):
        gd.head_from_handover({**handover(fh, fs), "band_factors": (1, 1, 1)})


# -- the weight file ---------------------------------------------------------------------------


def test_save_load_roundtrip(tmp_path, small):
    _, head = small
    p = save_head(head, tmp_path / "h.safetensors")
    back = load_head(p)
    assert np.array_equal(back.weight, head.weight)
    assert np.array_equal(back.thresholds, head.thresholds)
    assert back.n_classes == 6 and back.box_rows == 4
    assert back.meta == head.meta


def _write(path, tensors, **md):
    base = {"format": "vitgates-int8-detector", "version": "1", "n_classes": "6",
            "box_rows": "4", "feature_scale": "1.0", "score_thresh": "null", "meta": "{}"}
    base.update(md)
    path.write_bytes(save(tensors, metadata=base))
    return path


def _tensors(head):
    return {"weight": head.weight, "thresholds": head.thresholds.astype(np.int32),
            "weight_scale": head.weight_scale, "bias": head.bias}


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(weight=t["weight"].astype(np.int16)), "'weight' must be int8"),
    (lambda t: t.update(weight=t["weight"][:, :1]), "at least 2 channels"),
    (lambda t: t.update(weight=t["weight"][:8]), "8 rows for 6 classes"),
    (lambda t: t.update(thresholds=t["thresholds"].astype(np.float32)), "must be int32"),
    (lambda t: t.update(thresholds=t["thresholds"][:2]), "must be [3, n_classes]"),
    (lambda t: t["thresholds"].__setitem__((1, 2), 2**30), "outside the reachable"),
    (lambda t: t.update(bias=t["bias"][:3]), "'bias' must be [10]"),
    (lambda t: t["weight_scale"].__setitem__(0, -1.0), "must be positive"),
    (lambda t: t["bias"].__setitem__(0, np.nan), "not finite"),
    (lambda t: t.pop("bias"), "missing tensor 'bias'"),
    (lambda t: t.update(extra=np.zeros(1)), "unexpected tensor 'extra'"),
])
def test_bad_weight_files_are_refused_with_one_line(tmp_path, small, change, message):
    _, head = small
    t = {k: v.copy() for k, v in _tensors(head).items()}
    change(t)
    p = _write(tmp_path / "bad.safetensors", t)
    with pytest.raises(DetectorHeadError) as e:
        load_head(p)
    assert isinstance(e.value, VitgatesError)
    text = str(e.value)
    assert message in text and "\n" not in text and str(p) in text


@pytest.mark.parametrize("md, message", [
    ({"format": "other"}, "not an INT8 detector head"),
    ({"version": "2"}, "version 2 is not supported"),
    ({"n_classes": "7"}, "metadata says 7 classes"),
    ({"feature_scale": "-1"}, "finite and positive"),
    ({"score_thresh": "1.5"}, "must lie in (0, 1)"),
    ({"n_classes": "six"}, "must be an integer"),
])
def test_bad_metadata_is_refused(tmp_path, small, md, message):
    _, head = small
    p = _write(tmp_path / "bad.safetensors", _tensors(head), **md)
    with pytest.raises(DetectorHeadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_head(p)


def test_damaged_or_missing_file(tmp_path):
    p = tmp_path / "junk.safetensors"
    p.write_bytes(b"\x00\x01not safetensors")
    with pytest.raises(DetectorHeadError, match="not a safetensors file"):
        load_head(p)
    with pytest.raises(DetectorHeadError, match="no such file"):
        load_head(tmp_path / "absent.safetensors")


def test_pack_weights_layout(small):
    _, head = small
    f = gd.Folding(pixels=2, rows=4, lanes=2)
    addr, words = gd.pack_weights(head, f)
    order = gd.hw_row_order(head.n_classes, head.box_rows)
    assert order[:4] == [6, 7, 8, 9] and order[4:] == list(range(6))
    assert len(addr) == f.depth(10, 16) == 3 * 8
    # word pass·(C/lanes)+k, element r·lanes+l = hardware row pass·rows+r, channel k·lanes+l
    for p_ in range(3):
        for k in range(8):
            for r in range(4):
                for lane in range(2):
                    hr = p_ * 4 + r
                    want = head.weight[order[hr], 2 * k + lane] if hr < 10 else 0
                    assert words[p_ * 8 + k, r * 2 + lane] == want
    band, cls, value = gd.pack_thresholds(head)
    assert np.array_equal(value.reshape(3, 6), head.thresholds)
    assert band.tolist()[:7] == [0] * 6 + [1] and cls.tolist()[:7] == [0, 1, 2, 3, 4, 5, 0]


def test_cli_check_and_convert(tmp_path, small, capsys):
    from vitgates.cli import main
    from vitgates.golden.detector_float import FloatDetectorHead

    _, head = small
    good = save_head(head, tmp_path / "good.safetensors")
    assert main(["detector-head", "check", str(good)]) == 0
    assert "ok (synthetic): 6 classes + 4 box rows over 16 channels" in capsys.readouterr().out
    t = _tensors(head)
    t["weight"] = t["weight"].astype(np.float32)
    bad = _write(tmp_path / "bad.safetensors", t)
    assert main(["detector-head", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'weight' must be int8" in err
    rng = np.random.default_rng(0)
    fpath = FloatDetectorHead(rng.normal(0, 0.1, (85, 16)), rng.normal(-4, 1, 85),
                              {"synthetic": True}).save(tmp_path / "float.safetensors")
    out = tmp_path / "int8.safetensors"
    assert main(["detector-head", "convert", str(fpath), "--feature-scale", "0.05",
                 "--score-thresh", "0.2", "-o", str(out)]) == 0
    h = load_head(out)
    assert h.rows == 84 and h.score_thresh == 0.2 and h.meta["synthetic"] is True
