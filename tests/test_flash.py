"""``vitgates flash``: build the bitstream when it is missing or stale, then the programmer
command; one clear line (exit 2) when the programmer or the board is missing.

No board is attached in CI: the programmer runs are small scripts on PATH named like the
programmers, which record their arguments or fail as iceprog does without a board. The
build is real (yowasp yosys and nextpnr)."""

import json
import os
import stat
import sys

import pytest

from vitgates.cli import main
from vitgates.fpga.build_key import sources_digest


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("VITGATES_BUILD", str(tmp_path / "build"))
    bins = tmp_path / "bin"
    bins.mkdir()
    monkeypatch.setenv("PATH", str(bins))  # no programmer unless a test puts one there
    for name, ext in (("board-icebreaker", ".bin"), ("board-ulx3s-85f", ".bit")):
        d = tmp_path / "build" / "synth" / name
        d.mkdir(parents=True)
        (d / f"{name}{ext}").write_bytes(b"\xff\x00bitstream")
        _report(tmp_path, name, d / f"{name}{ext}", sources_digest())
    return tmp_path


def _report(tmp_path, name, bitstream, key):
    reports = tmp_path / "build" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / f"synth-{name}.json").write_text(
        json.dumps({"bitstream": str(bitstream), "sources_sha256": key}))


def _tool(folder, name, body):
    p = folder / "bin" / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return p


def test_dry_run_icebreaker(build, capsys):
    assert main(["flash", "--board", "icebreaker", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    path = os.path.join(str(build / "build"), "synth", "board-icebreaker",
                        "board-icebreaker.bin")
    assert out[0] == f"iceprog {path}"
    assert "not on PATH" in out[1]


def test_dry_run_ulx3s_sram(build, capsys):
    assert main(["flash", "--board", "ulx3s-85f", "--dry-run", "--sram"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("openFPGALoader -b ulx3s ")
    assert out[0].endswith("board-ulx3s-85f.bit") and " -f " not in out[0]


def test_dry_run_prefers_found_programmer(build, capsys):
    _tool(build, "openFPGALoader", "exit 0\n")
    assert main(["flash", "--board", "icebreaker", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"openFPGALoader -b icebreaker -f "
                   f"{build / 'build/synth/board-icebreaker/board-icebreaker.bin'}"]


def test_dry_run_without_bitstream_prints_the_build(build, capsys):
    (build / "build/synth/board-icebreaker/board-icebreaker.bin").unlink()
    assert main(["flash", "--board", "icebreaker", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "vitgates synth --board icebreaker --design board"
    assert out[1].startswith("iceprog ") and out[1].endswith("board-icebreaker.bin")
    assert "has not been built" in out[2]
    assert not (build / "build/synth/board-icebreaker/board-icebreaker.bin").exists()


@pytest.mark.parametrize("report", ["other-key", "missing", "garbage"])
def test_dry_run_stale_bitstream_prints_the_build(build, capsys, report):
    path = build / "build/reports/synth-board-ulx3s-85f.json"
    if report == "other-key":
        _report(build, "board-ulx3s-85f", build / "build/synth/board-ulx3s-85f/"
                "board-ulx3s-85f.bit", "0" * 16)
    elif report == "missing":
        path.unlink()
    else:
        path.write_text("{not json")
    assert main(["flash", "--board", "ulx3s-85f", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "vitgates synth --board ulx3s-85f --design board"
    assert out[1].startswith("openFPGALoader -b ulx3s -f ")


def test_given_bitstream_is_never_built(build, capsys):
    f = build / "mine.bin"
    f.write_bytes(b"\x00")
    assert main(["flash", "--board", "icebreaker", "--dry-run", "--bitstream", str(f)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"iceprog {f}"
    assert main(["flash", "--board", "icebreaker", "--dry-run", "--bitstream",
                 str(build / "none.bin")]) == 2


def test_no_programmer(build, capsys):
    assert main(["flash", "--board", "icebreaker"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "iceprog or openFPGALoader not found" in err[0]


def test_no_board(build, capsys):
    _tool(build, "iceprog", "echo \"Can't find iCE FTDI USB device (vendor_id 0x0403, "
          "device_id 0x6010 or 0x6014).\" >&2\necho ABORT. >&2\nexit 2\n")
    assert main(["flash", "--board", "icebreaker"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "iceprog failed (exit 2): ABORT." in err[0]
    assert "plugged in" in err[0]


def test_programs(build, capsys):
    log = build / "args.txt"
    _tool(build, "iceprog", f'echo "$@" > {log}\nexit 0\n')
    assert main(["flash", "--board", "icebreaker", "--sram"]) == 0
    assert log.read_text().split() == [
        "-S", str(build / "build/synth/board-icebreaker/board-icebreaker.bin")]
    assert "programmed icebreaker" in capsys.readouterr().out


def test_builds_missing_bitstream_then_programs(tmp_path, monkeypatch, capsys):
    """A real synthesis of the popcount core when no bitstream exists, then the programmer;
    a second flash finds the bitstream current and builds nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VITGATES_BUILD", "build")
    bins = tmp_path / "bin"
    bins.mkdir()
    log = tmp_path / "args.txt"
    prog = bins / "iceprog"
    prog.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexit 0\n')
    prog.chmod(prog.stat().st_mode | stat.S_IEXEC)
    # the programmer stub first; the tools (make, the compilers) from the usual PATH
    monkeypatch.setenv("PATH", os.pathsep.join([str(bins), os.path.dirname(sys.executable),
                                                os.environ["PATH"]]))
    assert main(["flash", "--board", "icebreaker", "--design", "popcount"]) == 0
    out = capsys.readouterr().out
    assert "building the bitstream first" in out and "programmed icebreaker" in out
    bitstream = tmp_path / "build/synth/popcount-icebreaker/popcount-icebreaker.bin"
    assert bitstream.stat().st_size > 0
    assert log.read_text().split() == ["build/synth/popcount-icebreaker/popcount-icebreaker.bin"]
    report = json.loads((tmp_path / "build/reports/synth-popcount-icebreaker.json").read_text())
    assert report["sources_sha256"] == sources_digest()
    assert main(["flash", "--board", "icebreaker", "--design", "popcount"]) == 0
    assert "building" not in capsys.readouterr().out
