"""Writing files so that a crash never leaves a half-written one behind."""

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "locked"]


def _umask() -> int:
    # /proc tells without changing it (os.umask would, for a moment, in every thread)
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def locked(folder):
    """Hold an exclusive lock on ``folder`` (created if missing) while the block runs.

    Builds that several processes may start at once (pytest-xdist workers building the
    same simulator, two sessions synthesising the same netlist) take the lock of their
    build folder, so one builds and the others then find the result. The lock is
    ``fcntl.flock`` on ``folder/.lock``: the kernel releases it when the process dies.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def atomic_write_bytes(path, data: bytes, *, mode: int = 0o666) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    The rename is atomic on POSIX file systems: readers see the old file or the new one.
    The temporary name is unique, so several processes may write the same path at once
    (the last rename wins, and each reader sees one whole file). The file gets ``mode``
    less the process's umask, as ``open`` would give it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), mode & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path, text: str, *, mode: int = 0o666) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode(), mode=mode)


def atomic_write_json(path, obj, *, indent: int = 2) -> Path:
    """``obj`` as JSON (with a final newline), written atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")
