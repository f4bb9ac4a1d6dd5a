"""cocotb tests of the board (Verilator): the whole top through its UART pins with real
frames, and 10,000 malformed byte streams into the link core, each followed by a good frame
that must be answered correctly. The testbenches are in ``vitgates.sim.tb_board``."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from vitgates.fpga.designs import default_person_config
from vitgates.sim.runner import build_dir
from vitgates.sim.vectors import pooled_vectors

from board_sim import run_core, run_top

pytestmark = pytest.mark.cocotb

FUZZ_STREAMS = 10_000


def test_board_top():
    d = build_dir("board-top-vectors", "verilator")
    vec = d / "pooled.npy"
    np.save(vec, pooled_vectors(default_person_config(), 4, seed=9))
    run_top("top", {"vectors": str(vec)})


def test_fuzz(capfd, record_property):
    results = run_core("fuzz", {"fuzz": FUZZ_STREAMS, "seed": 17}, timeout_cycles=48, gap=3)
    out = capfd.readouterr().out
    m = re.search(r"FUZZ-SUMMARY malformed_streams=(\d+) malformed_bytes=(\d+) "
                  r"good_frames_ok=(\d+) errors_reported=(\d+)", out)
    assert m, "the fuzz printed no summary"
    streams, nbytes, ok, errors = map(int, m.groups())
    assert streams == ok == FUZZ_STREAMS
    assert errors >= FUZZ_STREAMS  # every stream raised at least one error
    for key, value in (("malformed_streams", streams), ("malformed_bytes", nbytes),
                       ("errors_reported", errors), ("good_frames_answered", ok)):
        record_property(key, value)  # in the JUnit XML of CI runs
    with capfd.disabled():
        print(f"\nfuzz: {streams} malformed streams ({nbytes} bytes), {errors} errors reported, "
              f"{ok} good frames after them answered correctly")
    assert ET.parse(results).getroot().find(".//testcase") is not None


def test_board_top_detector():
    """The detector through the pins of the same top: loads, two grids, detections."""
    run_top("detector", {"seed": 5})
