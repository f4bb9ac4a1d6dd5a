"""The feature cache: shards + manifest, streaming, resuming, refusing corruption."""

import json

import numpy as np
import pytest

from vitgates.cli import main
from vitgates.features.cache import MANIFEST, CacheError, FeatureCache

ARRAYS = {"image_ids": {"shape": [], "dtype": "int64"},
          "pooled": {"shape": [8], "dtype": "float32"},
          "person": {"shape": [], "dtype": "bool"}}


def _make(tmp_path, shards=3, per=5):
    cache = FeatureCache.create(tmp_path / "c", backbone="test", resolution=640,
                                arrays=ARRAYS, dataset="unit test", synthetic=True)
    rng = np.random.default_rng(0)
    for s in range(shards):
        ids = np.arange(s * per, (s + 1) * per)
        cache.append_shard({"image_ids": ids, "pooled": rng.normal(size=(per, 8)),
                            "person": ids % 2 == 0})
    return cache


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_write_read_stream(tmp_path):
    _make(tmp_path)
    again = FeatureCache.open(tmp_path / "c")
    assert len(again) == 15 and again.image_ids.tolist() == list(range(15))
    pooled = again.load("pooled", verify=True)
    assert pooled.shape == (15, 8) and pooled.dtype == np.float32
    assert again.load("person").dtype == bool
    batches = list(again.iter_batches(4, ["image_ids", "pooled"]))
    assert [len(b["image_ids"]) for b in batches] == [4, 4, 4, 3]
    assert np.array_equal(np.concatenate([b["pooled"] for b in batches]), pooled)
    assert again.verify() == 15
    assert "15 images in 3 shards" in again.describe()
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.startswith(".")]


def test_resume_and_mismatch(tmp_path):
    _make(tmp_path, shards=2)
    cache = FeatureCache.create(tmp_path / "c", backbone="test", resolution=640,
                                arrays=ARRAYS, dataset="unit test", synthetic=True)
    assert len(cache) == 10  # resumed, nothing lost
    with pytest.raises(ValueError, match="already cached"):
        cache.append_shard({"image_ids": [3], "pooled": np.zeros((1, 8)), "person": [True]})
    with pytest.raises(CacheError, match="different cache"):
        FeatureCache.create(tmp_path / "c", backbone="other", resolution=640, arrays=ARRAYS,
                            dataset="unit test", synthetic=True)


def test_truncated_shard_is_refused_and_others_stay_readable(tmp_path):
    cache = _make(tmp_path)
    shard = tmp_path / "c" / cache.shards[1]["file"]
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(CacheError, match="corrupt shard") as e:
        cache.load("pooled")
    assert "\n" not in str(e.value) and shard.name in str(e.value)
    assert cache.read_shard(0)["pooled"].shape == (5, 8)
    assert cache.read_shard(2)["pooled"].shape == (5, 8)


def test_flipped_bits_are_refused_when_verifying(tmp_path):
    cache = _make(tmp_path)
    shard = tmp_path / "c" / cache.shards[0]["file"]
    data = bytearray(shard.read_bytes())
    data[-3] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(CacheError, match="checksum"):
        cache.verify()
    with pytest.raises(CacheError, match="checksum"):
        cache.read_shard(0, verify=True)


def test_corrupt_manifest_is_refused_and_nothing_is_lost(tmp_path):
    _make(tmp_path)
    folder = tmp_path / "c"
    (folder / MANIFEST).write_text('{"format": "vitgates-feature-cache", "vers')
    before = _snapshot(folder)
    with pytest.raises(CacheError, match="corrupt manifest") as e:
        FeatureCache.open(folder)
    assert "\n" not in str(e.value)
    with pytest.raises(CacheError, match="corrupt manifest"):
        FeatureCache.create(folder, backbone="test", resolution=640, arrays=ARRAYS,
                            dataset="unit test", synthetic=True)
    assert _snapshot(folder) == before  # nothing rewritten, nothing deleted
    m = {"format": "vitgates-feature-cache", "version": 1}
    (folder / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(CacheError, match="missing"):
        FeatureCache.open(folder)


def test_missing_cache(tmp_path):
    with pytest.raises(CacheError, match="not a feature cache"):
        FeatureCache.open(tmp_path)


def test_cli_synth_and_inspect(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["features", "synth", "--out", str(out), "-n", "300",
                 "--shard-size", "100"]) == 0
    assert main(["features", "inspect", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "300 images in 3 shards" in text and "synthetic" in text
    from vitgates.features.synthetic import pooled_dataset

    cache = FeatureCache.open(out)
    assert np.array_equal(cache.load("pooled"), pooled_dataset(n=300).features)
    (out / cache.shards[2]["file"]).write_bytes(b"garbage")
    assert main(["features", "inspect", str(out)]) == 2
    assert "vitgates: error:" in capsys.readouterr().err


def test_cli_synth_grids_write_coco(tmp_path):
    out = tmp_path / "grids"
    assert main(["features", "synth", "--kind", "grid", "--out", str(out), "-n", "3"]) == 0
    cache = FeatureCache.open(out)
    from vitgates.features.coco import load_coco

    coco = load_coco(out / "annotations.json")
    assert sorted(coco.getImgIds()) == cache.image_ids.tolist()
    assert cache.read_shard(0, ["grid"])["grid"].shape == (3, 40, 40, 768)
