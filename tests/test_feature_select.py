"""FeatureSelect: the configured channels, in config order, under stalls."""

import numpy as np
import pytest

from vitgates.hw.feature_select import FeatureSelect

from person_sim import run_stream


@pytest.mark.parametrize("dims", [(0,), (767, 0, 5), tuple(range(766, 726, -1))])
def test_selects(dims):
    rng = np.random.default_rng(len(dims))
    q = rng.integers(-128, 128, (4, 768))
    got = run_stream(FeatureSelect(dims), [int(v) for v in q.reshape(-1)], len(q),
                     p_in=0.2, p_out=0.6)
    assert [list(g) for g in got] == [list(row[list(dims)]) for row in q]


def test_small_vectors_back_to_back():
    q = np.arange(-40, 40).reshape(20, 4)
    got = run_stream(FeatureSelect((3, 1), n_channels=4), [int(v) for v in q.reshape(-1)],
                     len(q), p_in=0.0, p_out=0.0)
    assert [list(g) for g in got] == [[r[3], r[1]] for r in q]


@pytest.mark.parametrize("dims, n", [((), 768), ((1, 1), 768), ((768,), 768), ((-1,), 768)])
def test_refuses_bad_dims(dims, n):
    with pytest.raises(ValueError):
        FeatureSelect(dims, n_channels=n)
