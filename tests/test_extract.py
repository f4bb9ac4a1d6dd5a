"""Feature extraction through the backbone into the cache (tiny model, tiny images)."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import require_torch

torch = require_torch()

from vitgates import VitgatesError
from vitgates.features.cache import FeatureCache
from vitgates.features.extract import coco_items, extract, folder_items
from vitgates.golden.backbone import eupe_vit, letterbox, preprocess

pytestmark = pytest.mark.torch

# small models and inputs: one thread beats several contending for the cores (and xdist)
torch.set_num_threads(1)


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in zip((139, 285, 632), ((48, 64), (64, 40), (30, 30)), strict=True):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            folder / f"{i:012d}.png")
    return folder


def test_extract_folder_and_resume(tmp_path, images):
    model = eupe_vit("vitt16")
    items = folder_items(images)
    assert [it.image_id for it in items] == [139, 285, 632]
    out = tmp_path / "cache"
    extract(items[:2], out, model=model, backbone="random-init", resolution=64,
            batch_size=1, shard_size=1, progress=False)
    cache = extract(items, out, model=model, backbone="random-init", resolution=64,
                    batch_size=2, shard_size=2, progress=False)
    assert cache.image_ids.tolist() == [139, 285, 632] and len(cache.shards) == 3
    grid = cache.load("grid")
    assert grid.shape == (3, 4, 4, 192) and grid.dtype == np.float16
    pooled = cache.load("pooled")
    with Image.open(items[1].path) as im:
        pix, lb = letterbox(im, 64)
    with torch.no_grad():
        feats = model.forward_features(preprocess(pix[None]))
    want = feats["x_norm_patchtokens"][0].numpy()
    assert np.allclose(grid[1].reshape(16, 192), want, atol=2e-2)
    assert np.allclose(pooled[1], want.mean(0), atol=1e-5)
    assert cache.load("letterbox_scale")[1] == pytest.approx(lb.scale)
    assert cache.load("orig_hw")[1].tolist() == [64, 40]
    assert FeatureCache.open(out).verify() == 3


def test_extract_coco_split_with_labels(tmp_path, images):
    ann = {"images": [{"id": 139, "file_name": "000000000139.png", "width": 64, "height": 48},
                      {"id": 285, "file_name": "000000000285.png", "width": 40, "height": 64}],
           "annotations": [{"id": 1, "image_id": 285, "category_id": 1,
                            "bbox": [1, 1, 10, 10], "area": 100, "iscrowd": 0}],
           "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    items = coco_items(tmp_path / "ann.json", images)
    assert [(it.image_id, it.person) for it in items] == [(139, False), (285, True)]
    cache = extract(items, tmp_path / "c", model=eupe_vit("vitt16"), backbone="random-init",
                    resolution=64, kinds=("pooled",), progress=False)
    assert cache.load("person").tolist() == [False, True]
    assert "grid" not in cache.arrays


def test_unreadable_image_keeps_what_was_done(tmp_path, images):
    (images / "000000000999.png").write_bytes(b"not a png")
    items = folder_items(images)
    with pytest.raises(VitgatesError, match="cannot read image"):
        extract(items, tmp_path / "c", model=eupe_vit("vitt16"), backbone="random-init",
                resolution=64, batch_size=1, shard_size=1, progress=False)
    assert FeatureCache.open(tmp_path / "c").image_ids.tolist() == [139, 285, 632]
