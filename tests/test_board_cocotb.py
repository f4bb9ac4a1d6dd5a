"""cocotb tests of the board (Verilator): the whole top through its UART pins with real
frames, and 10,000 malformed byte streams into the link core, each followed by a good frame
that must be answered correctly. The testbenches are in ``vitgates.sim.tb_board``."""

import os
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from vitgates.fpga.person_design import default_person_config
from vitgates.sim.runner import build_dir
from vitgates.sim.vectors import pooled_vectors

from board_sim import run_core, run_top, sim_detector

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


#: the detector fuzz: malformed DET_* streams into the link core with the small detector of
#: the simulated board, a good detector sequence (load, a whole grid) every DET_FUZZ_EVERY;
#: VITGATES_DET_FUZZ sets the count (the slow variant runs 10,000)
DET_FUZZ_STREAMS = int(os.environ.get("VITGATES_DET_FUZZ", "1000"))
DET_FUZZ_EVERY = 25


def _fuzz_detector(capfd, record_property, streams):
    results = run_core("fuzz_detector", {"fuzz": streams, "good_every": DET_FUZZ_EVERY,
                                         "seed": 23},
                       timeout_cycles=48, gap=3, detector=sim_detector(), person=False,
                       status_copies=False)
    out = capfd.readouterr().out
    m = re.search(r"FUZZ-DET-SUMMARY malformed_streams=(\d+) malformed_bytes=(\d+) "
                  r"errors_reported=(\d+) good_frames_ok=(\d+) good_grids=(\d+) "
                  r"grids_completed=(\d+) records_checked=(\d+) detection_packets=(\d+)", out)
    assert m, "the detector fuzz printed no summary"
    streams_, nbytes, errors, ok, good, grids, records, packets = map(int, m.groups())
    n_good = -(-streams // DET_FUZZ_EVERY)
    assert streams_ == streams
    assert errors >= streams  # every stream raised at least one error
    assert ok > streams and good == n_good and grids >= good
    assert records > good and packets >= records + grids
    for key, value in (("malformed_streams", streams), ("malformed_bytes", nbytes),
                       ("errors_reported", errors), ("good_frames_answered", ok),
                       ("good_grids", good), ("grids_completed", grids),
                       ("records_checked", records), ("detection_packets", packets)):
        record_property(key, value)
    with capfd.disabled():
        print(f"\ndetector fuzz: {streams} malformed streams ({nbytes} bytes), {errors} errors "
              f"reported, {ok} good frames after them answered correctly, {good} good grids "
              f"({records} records as ref_detect's), {grids} grids completed, {packets} "
              f"detection packets as the model's")
    assert ET.parse(results).getroot().find(".//testcase") is not None


def test_fuzz_detector(capfd, record_property):
    """Malformed DET_WEIGHTS/DET_THRESHOLDS/DET_GRID (and PING, INFO) streams into the link
    core with a detector, each followed by a silence and a good frame; good detector
    sequences between them: every reply and detection packet as the model's."""
    _fuzz_detector(capfd, record_property, DET_FUZZ_STREAMS)


@pytest.mark.slow
def test_fuzz_detector_10k(capfd, record_property):
    _fuzz_detector(capfd, record_property, 10_000)
