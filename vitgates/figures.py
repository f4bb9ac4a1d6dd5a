"""Measured figures in the README and docs, rewritten from the reports that measure them.

A figure in Markdown sits between two HTML comments (invisible once rendered)::

    <!-- fig synth-sumdiff-icebreaker.gates.total -->1,604<!-- /fig -->
    <!-- fig synth-detector-ulx3s-85f.fmax_mhz .0f -->88<!-- /fig --> MHz

The opening comment names a report (``build/reports/<report>.json``), then after the first
dot the key inside it (dots go down nested objects; in a list, a number picks an element
and ``field=value[,field=value]`` the first element with those fields), and optionally a
Python format spec (``,`` thousands, ``.1f`` one decimal, ``.4%`` percent, written
``99.9998 %``). Without a spec the figure takes the default of its key in :data:`SCHEMA`.
The text between the comments is the figure as printed; units and words stay outside the
markers, and a marker inside a code span or block is text, not a figure.

``vitgates figures`` (:mod:`vitgates.commands.figures`) rewrites README.md and docs/*.md from
the reports under the build root and prints each change; ``--check`` changes nothing and
exits 1 when a figure differs from its report or its report or key is missing; ``--only
PATTERN`` limits either to the reports whose names match (CI checks the figures of the
reports it measures itself).

:data:`SCHEMA` is the list of keys a figure may name, per report: the keys docs/reports.md
(and the pages it links) document. A figure of a key outside it is refused, so a marker
cannot quietly point at something no report writes.
"""

import fnmatch
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import VitgatesError
from .fileio import atomic_write_text
from .paths import build_root

__all__ = [
    "Figure",
    "SCHEMA",
    "check",
    "default_files",
    "default_spec",
    "find_figures",
    "format_value",
    "lookup",
    "render",
    "reports_dir",
    "rewrite",
]

_INT = ",.0f"  # thousands, no decimals (also for counts a report keeps as floats)

#: Report name pattern (fnmatch) -> key path pattern (``*`` matches one path component) ->
#: the format spec a figure of that key takes unless its marker gives one.
SCHEMA: dict[str, dict[str, str]] = {
    "synth-*": {
        "luts": _INT, "ffs": _INT, "ebr": _INT, "spram": _INT, "dsp": _INT, "carries": _INT,
        "capacity.*": _INT,
        "fmax_mhz": ".1f", "target_mhz": "g",
        "gates.AND": _INT, "gates.XOR": _INT, "gates.NOT": _INT, "gates.total": _INT,
        "gates.total_by_abc_script.*": _INT,
        "cycles_per_image": _INT,
        "images_per_second_at_target": ".1f", "images_per_second_at_fmax": ".1f",
        "seconds": ".0f",
        # detector designs
        "macs_per_frame": _INT, "macs_per_cycle": _INT, "cycles_bound": _INT,
        "cycles_over_bound": ".3f",
    },
    "synth-board-*": {
        "baud": _INT, "clock_hz": _INT, "cycles_per_bit": "g", "slots": _INT,
        "frame_bytes": _INT, "link_images_per_second": ".1f", "core_images_per_second": _INT,
        "grid_bytes": _INT, "grid_wire_bytes": _INT, "link_grids_per_second": ".3f",
        "detector_cycles_bound": _INT, "detector_grids_per_second": ".1f",
        "grids_per_second_at_target": ".3f", "detection_record_bytes": _INT,
        "detection_frame_bytes": _INT,
    },
    "regress-*": {
        "n_images": _INT,
        "f1": ".3f", "precision": ".3f", "recall": ".3f",
        "map": ".3f", "map50": ".3f", "map75": ".3f",
        "agreement_with_int8": ".4%", "int8_vs_float_agreement": ".4%",
        "hardware_vs_int8.identical": _INT, "hardware_vs_int8.compared": _INT,
        "seconds": ".0f",
        "levels.*.n_images": _INT, "levels.*.seconds": ".1f",
        "levels.*.images_per_second": ".1f", "levels.*.cycles_per_image": _INT,
        "levels.*.cells.*": _INT, "levels.*.records": _INT,
        **{f"levels.*.{k}": ".3f" for k in ("f1", "precision", "recall", "map", "map50",
                                            "map75")},
        "checks.*.compared": _INT, "checks.*.identical": _INT, "checks.*.agreement": ".4%",
        "confusion.tp": _INT, "confusion.fp": _INT, "confusion.fn": _INT, "confusion.tn": _INT,
        # detector
        "macs_per_frame": _INT,
        "int8_vs_float_decisions.decisions": _INT, "int8_vs_float_decisions.identical": _INT,
        "int8_vs_float_decisions.agreement": ".4%",
    },
    "proofs": {"passed": _INT, "failed": _INT, "seconds": ".0f"},
}

# <!-- fig REPORT.KEY[ SPEC] -->TEXT<!-- /fig -->, on one line; not inside code, where a
# marker is shown rather than meant.
_CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$|`[^`\n]+`", re.MULTILINE | re.DOTALL)
_OPEN = re.compile(r"<!--\s*fig\s")
_FIGURE = re.compile(
    r"<!--\s*fig\s+(?P<report>[A-Za-z0-9_-]+)\.(?P<key>[A-Za-z0-9_.=,-]+)"
    r"(?:\s+(?P<spec>[^\s>]+))?\s*-->(?P<text>[^<\n]*)<!--\s*/fig\s*-->"
)


@dataclass(frozen=True)
class Figure:
    """One marked figure: where it is, what it names, and the text it shows."""

    path: Path
    line: int
    report: str
    key: str
    spec: str | None
    text: str
    start: int  # offsets of the text between the markers
    end: int

    @property
    def name(self) -> str:
        return f"{self.report}.{self.key}"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def find_figures(text: str, path: Path | str = "<text>") -> list[Figure]:
    """Every figure marker in ``text``; a marker that does not parse is a one-line error."""
    path = Path(path)
    code = [m.span() for m in _CODE.finditer(text)]
    figures = []
    for m in _OPEN.finditer(text):
        if any(a <= m.start() < b for a, b in code):
            continue
        line = text.count("\n", 0, m.start()) + 1
        f = _FIGURE.match(text, m.start())
        if f is None:
            raise VitgatesError(
                f"{path}:{line}: malformed figure marker (want "
                f"'<!-- fig REPORT.KEY [SPEC] -->TEXT<!-- /fig -->' on one line)")
        figures.append(Figure(path, line, f["report"], f["key"], f["spec"], f["text"],
                              f.start("text"), f.end("text")))
    return figures


def _schema_keys(report: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for pattern, table in SCHEMA.items():
        if fnmatch.fnmatchcase(report, pattern):
            keys.update(table)
    return keys


def _key_matches(pattern: str, key: str) -> bool:
    p, k = pattern.split("."), key.split(".")
    return len(p) == len(k) and all(a == "*" or a == b for a, b in zip(p, k, strict=True))


def default_spec(report: str, key: str) -> str | None:
    """The format spec :data:`SCHEMA` gives ``key`` of ``report``; None if it names no such
    key."""
    return next((spec for pattern, spec in _schema_keys(report).items()
                 if _key_matches(pattern, key)), None)


def lookup(data, key: str):
    """The value at the dotted ``key`` of a report; KeyError naming the first missing part."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, list) and "=" in part:
            want = dict(c.partition("=")[::2] for c in part.split(","))
            node = next((e for e in node if isinstance(e, dict)
                         and all(str(e.get(k)) == v for k, v in want.items())), None)
            if node is None:
                raise KeyError(part)
        else:
            raise KeyError(part)
    if node is None or isinstance(node, (dict, list)):
        raise KeyError(key)
    return node


def format_value(value, spec: str) -> str:
    """``value`` as a figure: ``format(value, spec)``; a percentage is written with a space
    before its sign, as the docs write one (``.4%`` gives ``99.9998 %``)."""
    try:
        if isinstance(value, bool):
            raise ValueError("a yes/no value is not a figure")
        text = format(value, spec)
        return text[:-1] + " %" if spec.endswith("%") else text
    except (TypeError, ValueError) as e:
        raise VitgatesError(f"cannot format {value!r} with {spec!r}: {e}") from None


def reports_dir() -> Path:
    """``reports/`` under the build root (:func:`vitgates.paths.build_root`)."""
    return build_root() / "reports"


def default_files(root: Path | str = ".") -> list[Path]:
    """README.md and docs/*.md under ``root``."""
    root = Path(root)
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))]
            if p.is_file()]


class _Reports:
    """Reports read once each; a missing or unreadable one is remembered as None."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._cache: dict[str, dict | None] = {}

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def get(self, name: str) -> dict | None:
        if name not in self._cache:
            p = self.path(name)
            try:
                self._cache[name] = json.loads(p.read_text())
            except FileNotFoundError:
                self._cache[name] = None
            except (OSError, ValueError) as e:
                raise VitgatesError(f"{p}: not a readable JSON report: {e}") from None
        return self._cache[name]


@dataclass(frozen=True)
class _Outcome:
    figure: Figure
    value: str | None  # the figure as the report gives it; None when it cannot
    problem: str | None  # why not


def _evaluate(fig: Figure, reports: _Reports) -> _Outcome:
    known = default_spec(fig.report, fig.key)
    if known is None:
        return _Outcome(fig, None, f"no report key {fig.key} in {fig.report} "
                                   "(vitgates.figures.SCHEMA)")
    data = reports.get(fig.report)
    if data is None:
        return _Outcome(fig, None, f"report {reports.path(fig.report)} is missing")
    try:
        value = lookup(data, fig.key)
    except KeyError:
        return _Outcome(fig, None, f"{reports.path(fig.report)} has no value at {fig.key}")
    return _Outcome(fig, format_value(value, fig.spec or known), None)


def render(text: str, path: Path | str, reports: _Reports,
           only=None) -> tuple[str, list[_Outcome]]:
    """``text`` with every figure that its report gives replaced; and each figure's
    outcome. ``only``: fnmatch patterns of the report names to take (default: all); the
    other figures stay as they are and have no outcome."""
    outcomes = [_evaluate(f, reports) for f in find_figures(text, path)
                if not only or any(fnmatch.fnmatchcase(f.report, pat) for pat in only)]
    parts, pos = [], 0
    for o in outcomes:
        if o.value is not None:
            parts += [text[pos:o.figure.start], o.value]
            pos = o.figure.end
    parts.append(text[pos:])
    return "".join(parts), outcomes


def rewrite(files, reports_folder, out=None, only=None) -> int:
    """Rewrite the figures of ``files`` in place (only files that change, atomically) and
    print each change, and each figure left as it is with the reason. ``only``: fnmatch
    patterns of the report names to take figures from (default: all). Returns 0."""
    out = out or sys.stdout
    reports = _Reports(reports_folder)
    missing: dict[str, list[str]] = {}
    for path in files:
        text = Path(path).read_text()
        new, outcomes = render(text, path, reports, only)
        for o in outcomes:
            f = o.figure
            if o.problem is not None:
                missing.setdefault(o.problem, []).append(f.where)
            elif o.value != f.text:
                print(f"{f.where}: {f.name}: {f.text} -> {o.value}", file=out)
        if new != text:
            atomic_write_text(path, new)
    for problem, wheres in missing.items():
        print(f"left as is ({len(wheres)}): {problem}: {', '.join(wheres)}", file=out)
    return 0


def check(files, reports_folder, out=None, only=None) -> int:
    """Print one line per figure that differs from its report or cannot be read from one;
    1 if there is any, else 0. ``only``: fnmatch patterns of the report names to check
    (default: all)."""
    out = out or sys.stdout
    reports = _Reports(reports_folder)
    bad = 0
    for path in files:
        _, outcomes = render(Path(path).read_text(), path, reports, only)
        for o in outcomes:
            f = o.figure
            if o.problem is not None:
                print(f"{f.where}: {f.name}: {o.problem}", file=out)
            elif o.value != f.text:
                print(f"{f.where}: {f.name}: reads {f.text}, report says {o.value}", file=out)
            else:
                continue
            bad += 1
    if bad:
        print(f"{bad} figure(s) out of date; run vitgates figures", file=out)
    return 1 if bad else 0
