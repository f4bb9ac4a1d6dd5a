"""SumDiffClassifier against ref_sumdiff in amaranth.sim."""

import numpy as np
import pytest

from vitgates.golden.person import ref_sumdiff
from vitgates.hw.sumdiff import SumDiffClassifier
from vitgates.sim.vectors import person_vectors

from conftest import random_person_config
from person_sim import run_stream

CONFIGS = {
    "random": lambda: random_person_config(2),
    "T=-5120": lambda: random_person_config(3, T=-5120),
    "T=5100": lambda: random_person_config(4, T=5100),
    "T=-5100": lambda: random_person_config(5, T=-5100),
    "T=0": lambda: random_person_config(6, T=0),
}


@pytest.mark.parametrize("pipeline", [1, 2, 4])
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_matches_golden(config, pipeline):
    cfg = CONFIGS[config]()
    x = person_vectors(cfg, 250, seed=pipeline)
    got = run_stream(SumDiffClassifier(cfg, pipeline=pipeline), [list(map(int, r)) for r in x],
                     len(x), seed=pipeline)
    np.testing.assert_array_equal(np.array(got), ref_sumdiff(x, cfg).astype(int))
