"""Training the float cofiber head (PyTorch) on the synthetic grid world."""

import numpy as np
import pytest

from conftest import require_torch

torch = require_torch()

from vitgates.cli import main
from vitgates.features.synthetic import grid_dataset
from vitgates.golden.detector_float import FloatDetectorHead, cofiber_bands
from vitgates.golden.detector_train import (
    TrainConfig,
    assign_targets,
    bands_torch,
    cache_source,
    detection_loss,
    evaluate_head,
    head_forward,
    init_head,
    synthetic_source,
    train_head,
)

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def world():
    torch.set_num_threads(1)  # small matrices: one thread is faster than two contending
    return grid_dataset(n_images=24, seed=0)


def test_bands_and_projection_first_agree():
    x = torch.randn(2, 8, 8, 16, dtype=torch.float64)
    want = np.concatenate([b.reshape(2, -1, 16) for b in cofiber_bands(x.numpy())], 1)
    assert np.allclose(bands_torch(x).numpy(), want)
    w, b = torch.randn(5, 16, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    assert torch.allclose(head_forward(x, w, b), bands_torch(x) @ w.T + b)


def test_assignment_puts_objects_in_their_band(world):
    src = synthetic_source(world)
    for img in world.image_ids[:8]:
        boxes, classes = src.gt(int(img))
        cls, ltrb, ctr = assign_targets(boxes, classes, (40, 40))
        assert cls.shape == (2100,) and ltrb.shape == (2100, 4)
        pos = np.flatnonzero(cls >= 0)
        assert len(pos) == len(world.objects(img))  # one block -> one location
        for o in world.objects(img):
            off = (0, 1600, 2000)[o.scale]
            w = 40 >> o.scale
            loc = off + (o.cell[0] >> o.scale) * w + (o.cell[1] >> o.scale)
            assert cls[loc] >= 0 and ctr[loc] > 0.99  # centred in its box


def test_loss_is_finite_and_has_all_terms(world):
    src = synthetic_source(world, world.image_ids[:2])
    ids, grids = next(src.batches(src.image_ids, 2))
    t = [assign_targets(*src.gt(int(i)), (40, 40)) for i in ids]
    head = init_head()
    out = head_forward(torch.from_numpy(grids), torch.from_numpy(head.weight),
                       torch.from_numpy(head.bias))
    strides = torch.cat([torch.full((n,), float(s)) for n, s in
                         ((1600, 16), (400, 32), (100, 64))])
    cls, ltrb, ctr = (torch.from_numpy(np.stack(a)) for a in zip(*t, strict=True))
    losses = detection_loss(out, cls, ltrb, ctr, strides)
    assert set(losses) == {"focal", "giou", "ctr", "total"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())


def test_training_beats_an_untrained_head(world):
    train = synthetic_source(world, world.image_ids[:12])
    test = synthetic_source(world, world.image_ids[16:])
    untrained = evaluate_head(init_head(), test)
    head = train_head(train, TrainConfig(steps=30, batch_size=4))
    trained = evaluate_head(head, test)
    assert untrained["map"] < 0.01
    assert trained["map"] > untrained["map"] + 0.1
    assert trained["map50"] > 0.3
    assert "synthetic" in trained["dataset"] and head.meta["synthetic"]
    assert head.weight.shape == (85, 768) and head.meta["steps"] == 30


def test_cache_source_reads_cached_grids(tmp_path):
    from vitgates.features.cache import FeatureCache
    from vitgates.features.synthetic import write_synthetic_cache

    write_synthetic_cache(tmp_path / "c", "grid", n=5, shard_size=2)
    cache = FeatureCache.open(tmp_path / "c")
    src = cache_source(cache, tmp_path / "c" / "annotations.json")
    world = grid_dataset(n_images=5)
    got = {int(i): g for ids, gs in src.batches(np.array([5, 1, 3]), 2)
           for i, g in zip(ids, gs, strict=True)}
    assert sorted(got) == [1, 3, 5]
    assert all(np.array_equal(got[i], world.grid(i)) for i in got)
    b, c = src.gt(1)
    b2, c2 = synthetic_source(world).gt(1)
    assert np.allclose(b, b2) and np.array_equal(c, c2)


def test_cli_train_detector_and_person(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VITGATES_BUILD", str(tmp_path / "build"))
    out = tmp_path / "head.safetensors"
    assert main(["train", "detector", "--images", "4", "--eval-images", "2", "--steps", "3",
                 "--batch-size", "2", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "[synthetic]" in text and "mAP" in text
    head = FloatDetectorHead.load(out)
    assert head.meta["synthetic"] and "eval" in head.meta
    assert (tmp_path / "build" / "reports" / "train-detector.json").is_file()
    assert main(["train", "person", "-o", str(tmp_path / "p.json"), "--config",
                 str(tmp_path / "cfg.json")]) == 0
    text = capsys.readouterr().out
    assert "person classifier [synthetic]: F1 0.8" in text
    assert main(["person-config", "check", str(tmp_path / "cfg.json")]) == 0
