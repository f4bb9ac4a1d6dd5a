"""Machine-readable JSON and short Markdown reports under ``build/reports/``."""

from pathlib import Path

from .fileio import atomic_write_json, atomic_write_text
from .paths import build_path

__all__ = ["reports_dir", "write_report"]


def reports_dir() -> Path:
    """``$VITGATES_BUILD/reports`` (``build/reports`` by default), created if missing."""
    return build_path("reports", mkdir=True)


def write_report(name: str, data: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md``; print and return their paths."""
    d = reports_dir()
    jpath, mpath = d / f"{name}.json", d / f"{name}.md"
    atomic_write_json(jpath, data)
    atomic_write_text(mpath, markdown.rstrip() + "\n")
    print(f"report: {jpath}")
    print(f"report: {mpath}")
    return jpath, mpath
