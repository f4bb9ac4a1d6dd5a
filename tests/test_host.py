"""The host client: against the simulated board (the board top in Verilator, its UART
joined to a TCP socket that pyserial opens as ``socket://``), and its error paths without a
board."""

import json
import socket
import threading
import time

import pytest
import serial

from vitgates.cli import main
from vitgates.errors import VitgatesError
from vitgates.golden.link.frames import Packet, Type
from vitgates.golden.link.model import LinkModel
from vitgates.golden.link.replies import LinkInfo
from vitgates.host.client import BoardLink

from board_sim import run_top


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _simulated_board():
    """Start the simulated board's bridge in a thread; return its URL, the thread and the
    list its failure goes to."""
    port = _free_port()
    failure = []

    def board():
        try:
            run_top("bridge", {"port": port})
        except Exception as e:  # reported by the test below
            failure.append(e)

    sim = threading.Thread(target=board, daemon=True)
    sim.start()
    deadline = time.monotonic() + 1200  # the simulator may still be building
    while True:  # a probe: the bridge serves the next client when this one sent nothing
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if failure or not sim.is_alive() or time.monotonic() > deadline:
                raise AssertionError(f"the simulated board did not start: {failure}") from None
            time.sleep(0.5)
    return f"socket://127.0.0.1:{port}", sim, failure


@pytest.mark.cocotb
def test_host_against_simulated_board(tmp_path, capsys):
    """``vitgates host`` streams 8 synthetic images to the simulated board and writes the
    regression report; every decision equals the golden INT8 model's."""
    url, sim, failure = _simulated_board()
    rc = main(["host", "--port", url, "-n", "8", "--timeout", "120", "--reports",
               str(tmp_path)])
    sim.join(300)
    assert not failure, failure
    out = capsys.readouterr()
    assert rc == 0, out.err
    summary = out.out.strip().splitlines()[-1]
    assert summary.startswith("board (synthetic): 8 images") and summary.endswith("PASS")
    d = json.loads((tmp_path / "regress-board-popcount.json").read_text())
    # the schema of the simulated regression (regress/report.py), the board as level
    for key in ("design", "dataset", "synthetic", "n_images", "level", "f1", "precision",
                "recall", "agreement_with_int8", "int8_vs_float_agreement", "passed",
                "seconds", "levels", "checks"):
        assert key in d, key
    assert d["design"] == "board-popcount" and d["level"] == "board"
    assert d["synthetic"] is True and d["n_images"] == 8
    assert d["agreement_with_int8"] == 1.0 and d["passed"]
    assert [lv["level"] for lv in d["levels"]] == ["float", "int8", "board"]
    assert d["counters_delta"]["images"] == 8
    assert d["link_errors"] == {} and d["host_rx_errors"] == 0
    assert d["board_info"]["baud"] == 3_000_000
    assert (tmp_path / "regress-board-popcount.md").read_text().startswith("# Regression")


@pytest.mark.cocotb
def test_host_detector_against_simulated_board(tmp_path, capsys):
    """``vitgates host --design detector`` on the simulated board, whose small detector
    (4×4×16, 8 classes) the grid world cannot feed: a random head and 2 random grids
    (SYNTHETIC, labelled so); every record equals the golden INT8 model's."""
    url, sim, failure = _simulated_board()
    rc = main(["host", "--design", "detector", "--port", url, "-n", "2", "--timeout", "120",
               "--reports", str(tmp_path)])
    sim.join(300)
    assert not failure, failure
    out = capsys.readouterr()
    assert rc == 0, out.err
    summary = out.out.strip().splitlines()[-1]
    assert summary.startswith("board detector (synthetic, random head): 2 grids")
    assert summary.endswith("PASS")
    d = json.loads((tmp_path / "regress-board-detector.json").read_text())
    for key in ("design", "dataset", "synthetic", "n_images", "level", "agreement_with_int8",
                "passed", "seconds", "levels", "checks"):
        assert key in d, key
    assert d["design"] == "board-detector" and d["level"] == "board"
    assert d["synthetic"] is True and d["n_images"] == 2 and d["mode"] == "random head"
    assert "no mAP" in d["dataset"] and "SYNTHETIC" in d["head"]
    assert d["agreement_with_int8"] == 1.0 and d["passed"]
    assert [lv["level"] for lv in d["levels"]] == ["int8", "board"]
    int8, board = d["levels"]
    assert "map" not in board  # no ground truth: no mAP claimed
    assert board["records"] == int8["records"] > 0
    check = d["checks"][0]
    assert check["step"] == "board vs INT8"
    assert check["compared"] == check["identical"] == board["records"]
    assert d["link_errors"] == {} and d["host_rx_errors"] == 0
    assert d["counters_delta"]["err_bad_order"] == 0


class _ModelBoard:
    """A pyserial-like port in front of the golden model of the board's link
    (:class:`~vitgates.golden.link.model.LinkModel`): what the host writes goes in, its replies
    and detection packets come out, byte for byte as the gateware sends them (the board
    top's cocotb tests hold the gateware to this model). It takes full-width detectors that
    the simulated board cannot run in a test's time."""

    def __init__(self, info, *, corrupt_record: int | None = None):
        self.model = LinkModel(None, info=info)
        self.out = bytearray()
        self.corrupt_record = corrupt_record
        self.records = 0

    def write(self, data):
        for p in self.model.feed(data) + self.model.take_detections():
            if p.type == Type.DETECTIONS:
                if self.records == self.corrupt_record:  # a wrong record, on a good frame
                    p = Packet(p.type, p.seq, bytes([p.payload[0] ^ 0x08]) + p.payload[1:])
                self.records += 1
            self.out += p.encode()
        return len(data)

    def read(self, n):
        data, self.out = bytes(self.out[:n]), self.out[n:]
        return data

    def close(self):
        pass


def _model_run(tmp_path, det_shape, *extra, corrupt_record=None):
    import argparse

    from vitgates.commands import host as command
    from vitgates.host.detector import run_host_detector
    from vitgates.host.report import write_board_report

    info = LinkInfo(person=False, detector=True, form=None, det_shape=det_shape,
                    det_fold=(4, 2))
    parser = argparse.ArgumentParser()
    command.configure_parser(parser)
    args = parser.parse_args(["--design", "detector", "--port", "model", "-n", "3",
                              "--timeout", "5", "--reports", str(tmp_path), *extra])
    rep, reg, passed = run_host_detector(
        args, _ModelBoard(info, corrupt_record=corrupt_record))
    write_board_report(rep, reg, args.reports)
    return json.loads((tmp_path / "regress-board-detector.json").read_text()), passed


def test_host_detector_grid_world(tmp_path):
    """A full-width detector (768 channels, 80 classes, 4 box rows) on an 8×8 grid: the grid
    world generated at the board's grid, the regression's float and INT8 heads; every board
    record equals the INT8 model's and the board's mAP equals the INT8 level's."""
    d, passed = _model_run(tmp_path, (8, 8, 768, 84, 80))
    assert passed and d["mode"] == "grid data" and d["synthetic"] is True
    assert d["level"] == "board" and d["grid"] == [8, 8]
    assert "fitted in closed form" in d["head"] and d["score_thresh"] == 0.05
    levels = {lv["level"]: lv for lv in d["levels"]}
    assert list(levels) == ["float", "int8", "board"]
    for lv in levels.values():
        for key in ("map", "map50", "map75", "detections"):
            assert key in lv, (lv["level"], key)
    for key in ("map", "map50", "map75"):
        assert d[key] == round(levels["board"][key], 6) == round(levels["int8"][key], 6)
    assert levels["int8"]["map50"] > 0.1  # the head finds the planted objects
    assert levels["board"]["records"] == levels["int8"]["records"] > 0
    board_check = next(c for c in d["checks"] if c["step"] == "board vs INT8")
    assert board_check["compared"] == board_check["identical"] == levels["board"]["records"]
    assert d["agreement_with_int8"] == 1.0
    assert d["int8_vs_float_agreement"] is not None


def test_host_detector_wrong_record_fails(tmp_path):
    """One record changed on its way back: the check counts it and the run fails."""
    d, passed = _model_run(tmp_path, (8, 8, 768, 84, 80), corrupt_record=0)
    assert not passed
    check = next(c for c in d["checks"] if c["step"] == "board vs INT8")
    assert check["identical"] == check["compared"] - 1 and check["status"] == "FAIL"
    assert d["agreement_with_int8"] < 1.0


def test_host_detector_board_without_box_rows(tmp_path):
    """A board with B = 0 (the iCEBreaker's): the head's class rows alone; records still
    identical, no mAP claimed at the INT8 and board levels."""
    d, passed = _model_run(tmp_path, (8, 8, 768, 80, 80), "-n", "2")
    assert passed and d["agreement_with_int8"] == 1.0
    levels = {lv["level"]: lv for lv in d["levels"]}
    assert "map" in levels["float"] and "map" not in levels["board"]
    assert levels["board"]["records"] == levels["int8"]["records"] > 0
    assert any("no box rows" in note for note in d["notes"])


def test_host_detector_head_mismatch(tmp_path, capsys):
    """An INT8 head whose classes the board does not have: one line naming both shapes."""
    from vitgates.golden.detector import random_head
    from vitgates.golden.detector_head import save_head

    path = save_head(random_head(768, 80, 4, seed=1), tmp_path / "head.safetensors")
    with pytest.raises(VitgatesError) as e:
        _model_run(tmp_path, (8, 8, 768, 44, 40), "--detector-head", str(path))
    assert "768 channels, 80 classes, 4 box rows" in str(e.value)
    assert "the board's detector takes 768 channels, 40 classes, 4 box rows" in str(e.value)


def test_no_port(capsys):
    assert main(["host", "--port", "/dev/vitgates-no-such-port", "-n", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot open /dev/vitgates-no-such-port" in err[0]


def test_silent_board(capsys):
    """A port where nothing answers: one line naming the timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
        assert main(["host", "--port", url, "--timeout", "0.3", "-n", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no reply from the board" in err[0]


def test_echo_is_not_a_board(capsys):
    """pyserial's loop:// echoes the host's own frames: not replies, and said so."""
    assert main(["host", "--port", "loop://", "--timeout", "0.3", "-n", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not answer frame" in err[0]


def test_link_over_loopback():
    """Frames sent come back intact through pyserial's loop:// (the codec end to end)."""
    s = serial.serial_for_url("loop://", timeout=0.05)
    link = BoardLink(s, timeout=1)
    seq = link.send(Type.PING, bytes(range(256)))
    p = link.receive()
    assert (p.type, p.seq, p.payload) == (Type.PING, seq, bytes(range(256)))
