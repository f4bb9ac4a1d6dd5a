"""``vitgates flash``: the programmer command for the built bitstream, and one clear line
(exit 2) when the bitstream, the programmer or the board is missing.

No board is attached in CI: the programmer runs of the last two tests are small scripts on
PATH named like the programmers, which record their arguments or fail as iceprog does
without a board."""

import os
import stat

import pytest

from vitgates.cli import main


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
    return tmp_path


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


def test_no_bitstream(build, capsys):
    (build / "build/synth/board-icebreaker/board-icebreaker.bin").unlink()
    assert main(["flash", "--board", "icebreaker", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vitgates synth --board icebreaker --design board" in err[0]


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
