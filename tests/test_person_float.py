"""The float person classifier: discovery, threshold, F1 (numpy only)."""

import numpy as np
import pytest

from vitgates.features.synthetic import pooled_dataset
from vitgates.golden.person_float import (
    FloatPersonClassifier,
    cohens_d,
    discover_dims,
    f1_score,
    fit_person,
    fit_threshold,
    sumdiff,
)


@pytest.fixture(scope="module")
def data():
    return pooled_dataset(seed=0)


def test_discovery_recovers_the_planted_dimensions(data):
    pos, neg = discover_dims(data.features, data.person)
    assert len(pos) == len(neg) == 20 and len(set(pos + neg)) == 40
    assert set(pos) == set(data.planted_pos)
    assert set(neg) == set(data.planted_neg)
    assert not set(pos + neg) & set(data.decoys)


@pytest.mark.parametrize("seed", [1, 2])
def test_discovery_recovers_other_seeds(seed):
    d = pooled_dataset(seed=seed)
    pos, neg = discover_dims(d.features, d.person)
    assert (set(pos), set(neg)) == (set(d.planted_pos), set(d.planted_neg))


def test_float_classifier_lands_near_the_seed_f1(data):
    clf = fit_person(data.features, data.person, source={"dataset": data.label})
    assert 0.87 <= clf.metrics["f1"] <= 0.91  # seed 000: F1 0.889 on COCO val2017
    assert clf.metrics["n"] == 5000
    assert "synthetic" in clf.source["dataset"]


def test_threshold_maximises_f1():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(300, 6)).astype(np.float32)
    y = rng.random(300) < 0.5
    f[y, 0] += 1.0
    f[y, 1] -= 1.0
    theta = fit_threshold(f, y, [0], [1])
    s = sumdiff(f, [0], [1])
    best = max(f1_score(s > t, y)[0] for t in np.concatenate([s, [s.min() - 1]]))
    assert f1_score(s > theta, y)[0] == pytest.approx(best)
    assert not np.any(s == theta)  # the threshold sits between scores


def test_f1_score():
    pred = np.array([1, 1, 0, 0, 1], bool)
    lab = np.array([1, 0, 1, 0, 1], bool)
    f1, p, r = f1_score(pred, lab)
    assert (p, r) == (2 / 3, 2 / 3) and f1 == pytest.approx(2 / 3)
    assert f1_score(np.zeros(3, bool), np.zeros(3, bool)) == (0.0, 0.0, 0.0)


def test_cohens_d_sign_and_errors():
    f = np.array([[0.0, 1.0], [0.1, 1.1], [1.0, 0.0], [1.1, 0.1]])
    d = cohens_d(f, [0, 0, 1, 1])
    assert d[0] > 0 > d[1]
    with pytest.raises(ValueError, match="both classes"):
        cohens_d(f, [1, 1, 1, 1])
    with pytest.raises(ValueError):
        discover_dims(f, [0, 0, 1, 1], n_pos=2, n_neg=1)


def test_save_json(tmp_path, data):
    clf = fit_person(data.features[:500], data.person[:500])
    p = clf.save(tmp_path / "f.json")
    import json

    d = json.loads(p.read_text())
    assert d["format"] == "vitgates-person-float" and d["pos_dims"] == clf.pos_dims
    again = FloatPersonClassifier(d["pos_dims"], d["neg_dims"], d["threshold"])
    assert np.array_equal(again.predict(data.features), clf.predict(data.features))
