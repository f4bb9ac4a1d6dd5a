import numpy as np
import pytest

from vitgates.golden.person_config import PersonConfig


def random_person_config(seed: int, *, thresholds=None, K=None, T=None) -> PersonConfig:
    """A valid config with random dims and thresholds (tests only)."""
    rng = np.random.default_rng(seed)
    dims = rng.permutation(768)[:40]
    t = rng.integers(-128, 128, 40) if thresholds is None else thresholds
    return PersonConfig(
        pos_dims=tuple(int(d) for d in dims[:20]),
        neg_dims=tuple(int(d) for d in dims[20:]),
        scale=0.02,
        T=int(rng.integers(-300, 300)) if T is None else T,
        dim_thresholds=tuple(int(v) for v in t),
        K=int(rng.integers(10, 30)) if K is None else K,
    )


@pytest.fixture
def person_config():
    return random_person_config(1)
