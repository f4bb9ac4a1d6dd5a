"""The person-classifier config format: round trip and one-line refusals."""

import json

import pytest

from vitgates.golden.person_config import (
    PersonConfig,
    PersonConfigError,
    load_person_config,
    save_person_config,
)

from conftest import random_person_config


def test_round_trip(tmp_path, person_config):
    path = save_person_config(person_config, tmp_path / "c.json")
    assert load_person_config(path) == person_config
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed away


def _bad(tmp_path, mutate):
    d = random_person_config(0).to_dict()
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(PersonConfigError) as e:
        load_person_config(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg
    return msg


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda d: d["pos_dims"].pop(), "'pos_dims' must list 20 dimensions, got 19"),
        (lambda d: d["neg_dims"].append(1), "'neg_dims' must list 20 dimensions, got 21"),
        (lambda d: d["pos_dims"].__setitem__(3, 768), "pos_dims[3] = 768 is outside 0..767"),
        (lambda d: d["neg_dims"].__setitem__(0, -1), "neg_dims[0] = -1 is outside 0..767"),
        (lambda d: d["pos_dims"].__setitem__(0, d["neg_dims"][0]), "must be distinct"),
        (lambda d: d["dim_thresholds"].__setitem__(5, 128), "dim_thresholds[5] = 128 is outside"),
        (lambda d: d["dim_thresholds"].__setitem__(5, -129), "dim_thresholds[5] = -129"),
        (lambda d: d["dim_thresholds"].pop(), "'dim_thresholds' must list 40"),
        (lambda d: d.pop("T"), "missing field 'T'"),
        (lambda d: d.pop("scale"), "missing field 'scale'"),
        (lambda d: d.__setitem__("scale", -1.0), "'scale' must be a finite positive number"),
        (lambda d: d.__setitem__("K", 41), "'K' must be an integer in [0, 40]"),
        (lambda d: d.__setitem__("K", 2.5), "'K' must be an integer"),
        (lambda d: d.__setitem__("T", 10**6), "outside the reachable range"),
        (lambda d: d.__setitem__("format", "x"), "'format' must be"),
        (lambda d: d.__setitem__("extra", 1), "unknown field 'extra'"),
        (lambda d: d["pos_dims"].__setitem__(0, "3"), "pos_dims[0] must be an integer"),
        (lambda d: d.__setitem__("pos_dims", 5), "'pos_dims' must be a list"),
    ],
)
def test_refuses_malformed(tmp_path, mutate, expect):
    assert expect in _bad(tmp_path, mutate)


def test_refuses_broken_json(tmp_path):
    p = tmp_path / "c.json"
    p.write_text('{"format": ')
    with pytest.raises(PersonConfigError, match=r"not valid JSON \(line 1"):
        load_person_config(p)
    with pytest.raises(PersonConfigError, match="no such file"):
        load_person_config(tmp_path / "missing.json")
    p.write_text("[1, 2]")
    with pytest.raises(PersonConfigError, match="expected a JSON object"):
        load_person_config(p)


def test_constructor_validates():
    d = random_person_config(0)
    with pytest.raises(PersonConfigError):
        PersonConfig(d.pos_dims[:-1], d.neg_dims, d.scale, d.T, d.dim_thresholds, d.K)
