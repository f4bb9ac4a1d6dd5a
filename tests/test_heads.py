"""Seed 002 heads: split-tower and FCOS train on synthetic grids with falling loss and
evaluate through pycocotools; ATSS, PC init, calibration fine-tune, soft-NMS, commands."""

import json

import numpy as np
import pytest

from conftest import require_torch

torch = require_torch()

from vitgates.cli import main
from vitgates.features.synthetic import grid_dataset
from vitgates.golden import head_train as ht
from vitgates.golden.detector_train import synthetic_source
from vitgates.golden.fcos import FCOSHead
from vitgates.golden.split_tower import (
    SplitTowerHead,
    class_embeddings,
    cofiber_levels,
    stand_in_embeddings,
)

pytestmark = pytest.mark.torch
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def source():
    return synthetic_source(grid_dataset(16, 0, grid_hw=(8, 8)))  # levels 16x16 .. 1x1


def test_full_size_parameter_counts():
    # the seed's: 2,975,067 and 16,138,074; docs/seeds.md explains the split-tower's gap
    assert sum(p.numel() for p in SplitTowerHead(stand_in_embeddings()).parameters()) \
        == 2_886_011
    assert sum(p.numel() for p in FCOSHead().parameters()) == 16_138_074


def test_cofiber_levels_sum_back_to_the_grid():
    x = torch.randn(1, 8, 16, 16, dtype=torch.float64)
    bands = cofiber_levels(x, 4)
    assert [b.shape[-1] for b in bands] == [16, 8, 4, 2]
    up = bands[-1]
    for b in reversed(bands[:-1]):
        up = b + torch.nn.functional.interpolate(up, size=b.shape[-2:], mode="bilinear",
                                                 align_corners=False)
    assert torch.allclose(up, x, atol=1e-12)


def test_stand_in_embeddings_are_deterministic(tmp_path):
    a, src = class_embeddings(None)
    assert a.shape == (80, 768) and "stand-in" in src
    assert np.array_equal(a, stand_in_embeddings())
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    np.save(tmp_path / "e.npy", a[:, :512])
    e, _ = class_embeddings(tmp_path / "e.npy")
    assert e.shape == (80, 512)


def test_atss_assigns_positives_inside_the_box():
    centres = ht.level_centres((16, 16), (8, 16, 32, 64, 128))
    box = np.array([[40.0, 40.0, 104.0, 120.0]], np.float32)
    cls, ltrb, ctr = ht.atss_assign(box, np.array([3]), centres, (8, 16, 32, 64, 128))
    pos = cls >= 0
    assert pos.any() and (cls[pos] == 3).all()
    pts = np.concatenate(centres)[pos]
    assert ((pts[:, 0] > 40) & (pts[:, 0] < 104) & (pts[:, 1] > 40) & (pts[:, 1] < 120)).all()
    assert (ltrb[pos] > 0).all() and (ctr[pos] > 0).all() and (ctr[~pos] == 0).all()


def test_pc_init_spans_the_text_space():
    h = SplitTowerHead(stand_in_embeddings(), hidden=32, n_conv=1, n_dw=1)
    h.pc_init()
    w = h.cls_project.weight.detach()  # [768, 32]
    assert torch.allclose(w.T @ w, torch.eye(32), atol=1e-4)


@pytest.mark.parametrize("kind", ["split-tower", "fcos"])
def test_head_trains_with_falling_loss_and_evaluates(kind, source):
    torch.manual_seed(0)
    if kind == "fcos":
        head = FCOSHead(ch=32, n_tower=1, mid=64)
    else:
        head = SplitTowerHead(stand_in_embeddings(64), hidden=32, n_conv=1, n_dw=1)
        head.pc_init()
    cfg = ht.HeadTrainConfig(steps=16, batch_size=8, lr=2e-3, save_every=0)
    ema, summary = ht.train_detection_head(head, source, cfg)
    losses = [h["total"] for h in summary["history"]]
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])
    r = ht.evaluate(ema, source)
    assert set(r) >= {"map", "map50", "map75"} and r["map50"] > 0
    soft = ht.evaluate(ema, source, soft=True)
    assert soft["nms"] == "soft (linear)"


def test_calibration_fine_tune_moves_only_the_calibration_layers(source):
    head = SplitTowerHead(stand_in_embeddings(64), hidden=16, n_conv=1, n_dw=1)
    before = {k: v.clone() for k, v in head.state_dict().items()}
    tuned, _ = ht.calibrate_head(head, source, 2, lr=1e-2, batch_size=8)
    after = tuned.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and moved <= {"cls_project.weight", "cls_bias", "logit_scale"}


def test_soft_nms_decays_overlaps():
    b = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    keep, s = ht.soft_nms(b, np.array([0.9, 0.8, 0.7]), 0.5, 0.05)
    assert keep.tolist() == [0, 2, 1] and s[2] < 0.8


def test_heads_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VITGATES_BUILD", str(tmp_path))
    out = tmp_path / "h.safetensors"
    common = ["--images", "8", "--eval-images", "4", "--grid", "8", "--device", "cpu"]
    assert main(["heads", "train", "--head", "split-tower", "--hidden", "16", *common,
                 "--steps", "2", "--calib-steps", "1", "--checkpoint",
                 str(tmp_path / "ck.pt"), "-o", str(out)]) == 0
    r = json.loads((tmp_path / "reports" / "heads-train-split-tower.json").read_text())
    assert "calibrated" in r and r["steps"] == 2
    assert main(["heads", "eval", "--head", "split-tower", "--weights", str(out),
                 *common, "--soft-nms"]) == 0
    assert (tmp_path / "reports" / "heads-eval-split-tower.md").is_file()
    assert main(["heads", "params"]) == 0
    p = json.loads((tmp_path / "reports" / "heads-params.json").read_text())
    assert [h["seed"] for h in p["heads"]] == [2_975_067, 16_138_074]
    capsys.readouterr()
    assert main(["heads", "eval", "--head", "fcos", "--weights", str(out), *common]) == 2
    assert main(["heads", "train", "--grid", "12", "-o", str(out)]) == 2
    assert main(["heads", "train", "--head", "fcos", "--hidden", "12", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("vitgates: error: ") for e in err)


def test_training_resumes_where_it_stopped(source, tmp_path):
    def run(**kw):
        torch.manual_seed(0)
        head = FCOSHead(ch=32, n_tower=1, mid=64)
        cfg = ht.HeadTrainConfig(steps=4, batch_size=8, save_every=0)
        return ht.train_detection_head(head, source, cfg, **kw)

    full, _ = run()
    ck = tmp_path / "ck.pt"
    run(checkpoint=ck, stop_at=3)  # 16 images of batch 8: stops inside the second epoch
    assert torch.load(ck, weights_only=False)["step"] == 3
    resumed, summary = run(checkpoint=ck)
    assert summary["steps"] == 4 and len(summary["history"]) == 4
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
