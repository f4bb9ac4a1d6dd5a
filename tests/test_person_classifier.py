"""PersonClassifier (FeatureSelect + core) on whole pooled vectors in amaranth.sim."""

import numpy as np
import pytest

from vitgates.fpga.person_design import PERSON_PIPELINE, default_person_config
from vitgates.golden.person import ref_popcount, ref_sumdiff, select
from vitgates.hw.person_classifier import PersonClassifier
from vitgates.sim.vectors import pooled_vectors

from person_sim import run_stream

REF = {"popcount": ref_popcount, "sumdiff": ref_sumdiff}


@pytest.mark.parametrize("form", sorted(REF))
def test_whole_images(form):
    cfg = default_person_config()
    q = pooled_vectors(cfg, 6, seed=2)
    dut = PersonClassifier(cfg, form=form, pipeline=PERSON_PIPELINE[form])
    got = run_stream(dut, [int(v) for v in q.reshape(-1)], len(q), p_in=0.1, p_out=0.5)
    np.testing.assert_array_equal(got, REF[form](select(q, cfg), cfg).astype(int))


def test_refuses_unknown_form():
    with pytest.raises(ValueError):
        PersonClassifier(default_person_config(), form="majority")
