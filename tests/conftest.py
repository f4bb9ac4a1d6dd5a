import os

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


def require_torch():
    """PyTorch, for a test module that needs it.

    Where PyTorch is not installed (``nox -s sim``, ``synth``: the hardware path never needs
    it) the module is skipped. The sessions that install it (``tests``, ``slow``) set
    ``VITGATES_REQUIRE_TORCH=1``, and there a missing or broken PyTorch fails the run instead
    of skipping quietly.
    """
    if os.environ.get("VITGATES_REQUIRE_TORCH") == "1":
        import torch

        return torch
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install .[torch])")
