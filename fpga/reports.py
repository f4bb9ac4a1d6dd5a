"""Machine-readable JSON and short Markdown reports under ``build/reports/``."""

import json
import os
import tempfile
from pathlib import Path

__all__ = ["reports_dir", "write_report"]


def reports_dir() -> Path:
    """``$VITGATES_BUILD/reports`` (``build/reports`` by default), created if missing."""
    d = Path(os.environ.get("VITGATES_BUILD", "build")) / "reports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(name: str, data: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md``; print and return their paths."""
    d = reports_dir()
    jpath, mpath = d / f"{name}.json", d / f"{name}.md"
    _atomic_write(jpath, json.dumps(data, indent=2, sort_keys=False) + "\n")
    _atomic_write(mpath, markdown.rstrip() + "\n")
    print(f"report: {jpath}")
    print(f"report: {mpath}")
    return jpath, mpath
