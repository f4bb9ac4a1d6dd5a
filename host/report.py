"""The report of a regression through a board: the schema of ``vitgates regress``
(docs/reports.md) with the board as the deciding level, written as
``regress-board-<form>.{json,md}`` or ``regress-board-detector.{json,md}``."""

from __future__ import annotations

from pathlib import Path

from ..fileio import atomic_write_json, atomic_write_text
from ..regress.report import Regression
from ..reports import write_report

__all__ = ["BoardRegression", "write_board_report"]


class BoardRegression(Regression):
    """A regression whose deciding level is the board."""

    def top_level(self):
        return self.level("board") or super().top_level()


def write_board_report(rep: dict, reg, folder=None) -> tuple[Path, Path]:
    """Write the report as ``regress-board-<form>.{json,md}`` (in ``folder`` when given)."""
    name = f"regress-{rep['design']}"
    if folder is None:
        return write_report(name, rep, reg.markdown(rep))
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    j, m = d / f"{name}.json", d / f"{name}.md"
    atomic_write_json(j, rep)
    atomic_write_text(m, reg.markdown(rep).rstrip() + "\n")
    print(f"report: {j}")
    print(f"report: {m}")
    return j, m
