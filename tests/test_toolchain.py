"""The tool wrappers and shared build files under concurrency.

Several processes prepare the same build folder at once in practice: pytest-xdist workers,
and the README's two Quickstart lines, whose nox sessions have different virtualenvs (so
different wrapper texts). Every process must find whole, runnable wrappers, and no
temporary file may be left behind.
"""

import os
import subprocess
import sys
import textwrap
import time

from vitgates.fileio import atomic_write_text
from vitgates.toolchain import tool_env, which

_CHILD = textwrap.dedent("""
    import os, subprocess, sys
    if sys.argv[1] != "same":
        # another environment: the wrappers name another interpreter
        sys.executable = sys.argv[1]
    from vitgates.toolchain import tool_env, which
    for _ in range(int(sys.argv[2])):
        env = tool_env()
        yosys = which("yosys", env)
        out = subprocess.run([yosys, "-V"], env=env, capture_output=True, text=True)
        assert out.returncode == 0 and "Yosys" in out.stdout, out.stdout + out.stderr
        print(os.path.dirname(yosys))
""")


def _other_python(tmp_path) -> str:
    """Another interpreter path (a link to this Python), as another virtualenv has."""
    other = tmp_path / "other-env" / "python"
    other.parent.mkdir()
    other.symlink_to(os.path.realpath(sys.executable))
    return str(other)


def test_wrappers_race_free(tmp_path):
    env = dict(os.environ, VITGATES_BUILD=str(tmp_path / "build"))
    other = _other_python(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, kind, "3"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for kind in ("same", other) * 3]
    folders = set()
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        folders |= set(out.split())
    # one folder per environment, both under build/toolbin
    assert len(folders) == 2
    assert all(os.path.dirname(f) == str(tmp_path / "build" / "toolbin") for f in folders)
    left = [p for p in (tmp_path / "build").rglob("*") if p.name.endswith(".tmp")]
    assert not left, left


def test_wrappers_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VITGATES_BUILD", str(tmp_path / "build"))
    first = which("yosys", tool_env())
    mine = sys.executable
    monkeypatch.setattr(sys, "executable", _other_python(tmp_path))
    second = which("yosys", tool_env())
    assert first != second
    assert open(first).read() != open(second).read()
    # an unchanged environment reuses its wrappers (written once)
    before = os.stat(second).st_mtime_ns
    time.sleep(0.01)
    assert which("yosys", tool_env()) == second and os.stat(second).st_mtime_ns == before
    monkeypatch.setattr(sys, "executable", mine)
    assert which("yosys", tool_env()) == first


_WRITER = textwrap.dedent("""
    import sys
    from vitgates.fileio import atomic_write_text
    for k in range(200):
        atomic_write_text(sys.argv[1], sys.argv[2] * 5000)
""")


def test_atomic_writes_from_many_processes(tmp_path):
    """Readers see one writer's whole text, never a mix or a partial file."""
    path = tmp_path / "shared.txt"
    atomic_write_text(path, "a" * 5000)
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), c])
             for c in "abcd"]
    seen = 0
    while any(p.poll() is None for p in procs):
        text = path.read_text()
        assert len(text) == 5000 and len(set(text)) == 1, text[:20]
        seen += 1
    assert all(p.returncode == 0 for p in procs) and seen > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.txt"]


def test_atomic_write_follows_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "r.txt", "x")
        atomic_write_text(tmp_path / "x.sh", "x", mode=0o755)
    finally:
        os.umask(old)
    assert (tmp_path / "r.txt").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "x.sh").stat().st_mode & 0o777 == 0o750


_LOCKER = textwrap.dedent("""
    import sys, time
    from vitgates.fileio import locked
    for _ in range(5):
        with locked(sys.argv[1]):
            with open(sys.argv[2], "a") as f:
                f.write("<")
                f.flush()
                time.sleep(0.01)
                f.write(">")
""")


def test_locked_is_exclusive_across_processes(tmp_path):
    log = tmp_path / "log"
    procs = [subprocess.Popen([sys.executable, "-c", _LOCKER, str(tmp_path / "b"), str(log)])
             for _ in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert log.read_text() == "<>" * 20
