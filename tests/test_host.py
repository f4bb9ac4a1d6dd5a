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
from vitgates.fpga.host import BoardLink
from vitgates.golden.link import Type

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
    # the schema of the simulated regression (sim/regress_report.py), the board as level
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
    """``vitgates host --design detector``: a random head and 2 random grids (SYNTHETIC)
    through the simulated board's detector; every record equals the golden INT8 model's."""
    url, sim, failure = _simulated_board()
    rc = main(["host", "--design", "detector", "--port", url, "-n", "2", "--timeout", "120",
               "--reports", str(tmp_path)])
    sim.join(300)
    assert not failure, failure
    out = capsys.readouterr()
    assert rc == 0, out.err
    summary = out.out.strip().splitlines()[-1]
    assert summary.startswith("board detector (synthetic): 2 grids") and summary.endswith("PASS")
    d = json.loads((tmp_path / "regress-board-detector.json").read_text())
    for key in ("design", "dataset", "synthetic", "n_images", "level", "agreement_with_int8",
                "passed", "seconds", "levels", "checks"):
        assert key in d, key
    assert d["design"] == "board-detector" and d["level"] == "board"
    assert d["synthetic"] is True and d["n_images"] == 2
    assert d["agreement_with_int8"] == 1.0 and d["passed"]
    assert [lv["level"] for lv in d["levels"]] == ["int8", "board"]
    board = d["levels"][1]
    assert board["detections"] == d["levels"][0]["detections"] > 0
    assert d["checks"][0]["compared"] == board["detections"]
    assert d["link_errors"] == {} and d["host_rx_errors"] == 0
    assert d["counters_delta"]["err_bad_order"] == 0


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
