"""Seed 000 stages 4/4b/4c: a student distilled from a random-weight teacher learns its
decisions, training resumes, presets have the seed's sizes, and the command runs."""

import json

import numpy as np
import pytest

from conftest import require_torch

torch = require_torch()

from vitgates.cli import main
from vitgates.features.synthetic import image_dataset
from vitgates.golden import backbone_reduce as br
from vitgates.golden import student as st
from vitgates.golden.backbone import eupe_vit, preprocess

pytestmark = pytest.mark.torch
torch.set_num_threads(1)

#: agreement with the teacher's decisions must beat the majority-class rate by this much
MARGIN = 0.25


@pytest.fixture(scope="module")
def world():
    ds = image_dataset(448, 32, 0)
    x = preprocess(ds.pixels)
    teacher = br.drop_blocks(eupe_vit("vitt16"), range(2, 12))
    train = br.tensor_set(x[:384], ds.person[:384], "train", synthetic=True)
    held = br.tensor_set(x[384:], ds.person[384:], "held", synthetic=True)
    clf = br.fit_classifier(teacher, train)
    # the teacher decides at the median of its scores: chance agreement is about 0.5
    clf.threshold = float(np.median(br._scores(teacher, train, clf, "mean")))
    return teacher, x[:384], train, held, clf


def _batches(x, bs=64):
    def batches(epoch):
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        for s in range(0, len(x), bs):
            yield x[perm[s : s + bs]]

    return batches


def test_presets_have_the_seed_sizes():
    assert st.student_params(st.PRESETS["3.27m"]) == 3_272_488
    assert round(st.student_params(st.PRESETS["15.67m"]) / 1e6, 1) == 15.5


def test_student_learns_the_teacher_decisions(world, tmp_path):
    teacher, x, _, held, clf = world
    student = st.build_student(st.StudentConfig(width=64, depth=1, heads=2, out_dim=40), clf)
    before = st.calibrate_student(student, teacher, held, clf)
    cfg = st.DistillConfig(dims=1.0, scalar=1.0, steps=120, batch_size=64, lr=3e-3,
                           save_every=0)
    summary = st.train_student(student, teacher, _batches(x), cfg)
    after = st.calibrate_student(student, teacher, held, clf)
    assert summary["history"][-1]["total"] < summary["history"][0]["total"]
    assert after["agreement_teacher_threshold"] >= after["chance_agreement"] + MARGIN
    assert after["score_correlation"] > 0.9 > before["score_correlation"]
    path = st.save_student(student, tmp_path / "s.safetensors", {"stage": "4c"})
    again, meta = st.load_student(path)
    with torch.no_grad():
        assert torch.allclose(again.score(x[:8]), student.score(x[:8]))
    assert meta["stage"] == "4c"


def test_cosine_loss_and_resume(world, tmp_path):
    teacher, x, _, _, clf = world
    cfg = st.StudentConfig(width=32, depth=1, heads=2, out_dim=192)
    dc = st.DistillConfig(dims=1.0, cosine=1.0, steps=6, batch_size=64, save_every=3)
    ck = tmp_path / "ck.pt"
    a = st.build_student(cfg, clf)
    full = st.train_student(a, teacher, _batches(x), dc, checkpoint=tmp_path / "full.pt")
    b = st.build_student(cfg, clf)
    st.train_student(b, teacher, _batches(x), dc, checkpoint=ck, stop_at=3)
    # the run stopped after 3 steps and saved its state; the next resumes, same data order
    ck_state = torch.load(ck, weights_only=False)
    assert ck_state["step"] == 3
    c = st.build_student(cfg, clf)
    resumed = st.train_student(c, teacher, _batches(x), dc, checkpoint=ck)
    assert resumed["steps"] == full["steps"] == 6
    for p, q in zip(a.parameters(), c.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5)
    assert full["history"][-1]["cosine"] > 0


def test_backbone_student_command(tmp_path, monkeypatch):
    monkeypatch.setenv("VITGATES_BUILD", str(tmp_path))
    w = br.save_reduced(br.drop_blocks(eupe_vit("vitt16"), range(1, 12)),
                        tmp_path / "t.safetensors")
    out = tmp_path / "student.safetensors"
    assert main(["backbone", "student", "--weights", str(w), "-n", "32",
                 "--synthetic-size", "32", "--stage", "4c", "--width", "32", "--depth", "1",
                 "--heads", "2", "--steps", "4", "--device", "cpu", "--checkpoint",
                 str(tmp_path / "ck.pt"), "-o", str(out)]) == 0
    r = json.loads((tmp_path / "reports" / "backbone-student-4c.json").read_text())
    assert r["train"]["steps"] == 4 and "student_threshold" in r["after"]
    assert out.is_file() and (tmp_path / "reports" / "backbone-student-4c.md").is_file()
