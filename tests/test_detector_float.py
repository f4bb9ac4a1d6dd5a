"""The float detection head in numpy: bands, decoding, NMS, files, COCO evaluation."""

import numpy as np
import pytest

from vitgates import VitgatesError
from vitgates.features.synthetic import grid_dataset
from vitgates.golden.detector_float import (
    FloatDetectorHead,
    band_locations,
    coco_map,
    cofiber_bands,
    decode_boxes,
    detections_to_coco,
    nms,
)


def _up(x):
    return np.repeat(np.repeat(x, 2, 0), 2, 1)


def test_bands_reconstruct_and_match_the_integer_form():
    rng = np.random.default_rng(0)
    q = rng.integers(-128, 128, (8, 12, 5)).astype(np.int64)
    b0, b1, b2 = cofiber_bands(q.astype(np.float64))
    assert b0.shape == (8, 12, 5) and b1.shape == (4, 6, 5) and b2.shape == (2, 3, 5)
    assert np.allclose(b0 + _up(b1) + _up(_up(b2)), q)
    # docs/arithmetic.md: S1, S2 block sums; band0 = 4x - S1^, band1 = 4 S1 - S2^, band2 = S2
    s1 = q.reshape(4, 2, 6, 2, 5).sum((1, 3))
    s2 = s1.reshape(2, 2, 3, 2, 5).sum((1, 3))
    assert np.array_equal(4 * b0, 4 * q - _up(s1))
    assert np.array_equal(16 * b1, 4 * s1 - _up(s2))
    assert np.array_equal(16 * b2, s2)


def test_locations_and_decoding():
    locs = band_locations((8, 8))
    assert [len(x) for x in locs] == [64, 16, 4]
    assert locs[0][0].tolist() == [8, 8] and locs[2][-1].tolist() == [96, 96]
    box = decode_boxes(np.zeros((1, 4)), np.array([[32.0, 32.0]]), 32)
    assert np.allclose(box, [[16, 16, 48, 48]])


def test_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7])).tolist() == [0, 2]
    assert nms(boxes, np.array([0.1, 0.8, 0.7])).tolist() == [1, 2]


def test_oracle_head_is_perfect_on_synthetic_world():
    """A head built from the planted directions finds the planted objects."""
    ds = grid_dataset(n_images=4, seed=0)
    w = np.zeros((84, 768), np.float32)
    w[:80] = 2.0 * ds.class_directions
    b = np.zeros(84, np.float32)
    b[:80] = -0.9 * 2.0 * ds.amplitude * 0.75
    b[80:] = np.log(0.925)
    head = FloatDetectorHead(w, b)
    results = []
    for i, g in ds.iter_grids():
        results += detections_to_coco(i, head.detect(g))
    assert coco_map(ds.coco, results)["map50"] > 0.9


def test_save_load_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    head = FloatDetectorHead(rng.normal(size=(85, 768)), rng.normal(size=85),
                             {"dataset": "x (synthetic)"})
    head.save(tmp_path / "h.safetensors")
    again = FloatDetectorHead.load(tmp_path / "h.safetensors")
    assert np.array_equal(again.weight, head.weight) and again.meta == head.meta
    assert again.has_centerness
    with pytest.raises(VitgatesError, match="no such"):
        FloatDetectorHead.load(tmp_path / "absent.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(VitgatesError):
        FloatDetectorHead.load(tmp_path / "bad.safetensors")
    with pytest.raises(VitgatesError, match="weight"):
        FloatDetectorHead(np.zeros((80, 768)), np.zeros(80))


def test_no_detections_is_zero_map():
    ds = grid_dataset(n_images=1, seed=0)
    assert coco_map(ds.coco, [])["map"] == 0.0


def test_handover_and_float_decisions():
    from vitgates.golden.detector_float import (
        BAND_FACTORS,
        choose_feature_scale,
        float_decisions,
        handover,
    )

    ds = grid_dataset(n_images=2, seed=0)
    grids = np.stack([ds.grid(i) for i in ds.image_ids])
    scale = choose_feature_scale(grids)
    assert 0 < scale and np.mean(np.abs(grids) <= 127 * scale) > 0.998
    rng = np.random.default_rng(0)
    head = FloatDetectorHead(rng.normal(0, 0.05, (85, 768)), rng.normal(0, 1, 85))
    h = handover(head, scale)
    assert h["weight"].shape == (84, 768) and h["bias"].shape == (84,)
    assert h["band_factors"] == BAND_FACTORS and h["strides"] == (16, 32, 64)
    dec = float_decisions(head, grids[0], 0.3)
    assert [d.shape for d in dec] == [(40, 40, 80), (20, 20, 80), (10, 10, 80)]
    raw = head.raw(grids[0])
    assert np.array_equal(dec[1], 1 / (1 + np.exp(-raw[1][..., :80])) > 0.3)
