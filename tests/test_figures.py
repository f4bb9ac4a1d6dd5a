"""Figures in Markdown, rewritten and checked against the reports that measure them."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vitgates.errors import VitgatesError
from vitgates.figures import (
    SCHEMA,
    check,
    default_files,
    default_spec,
    find_figures,
    format_value,
    lookup,
    rewrite,
)

ROOT = Path(__file__).resolve().parents[1]

SYNTH = {
    "design": "sumdiff", "board": "icebreaker", "luts": 779, "ffs": 412, "fmax_mhz": 49.43,
    "target_mhz": 48, "timing_met": True, "gates": {"AND": 900, "XOR": 678, "NOT": 26,
                                                    "total": 1604},
    "capacity": {"luts": 5280}, "cycles_per_image": 768, "bitstream": None,
}
REGRESS = {
    "design": "detector", "map": 0.41234, "agreement_with_int8": 1.0,
    "int8_vs_float_decisions": {"decisions": 806400, "identical": 806398,
                                "agreement": 806398 / 806400},
    "levels": [{"level": "float", "seconds": 1.25},
               {"level": "gate", "netlist": "generic-dsp", "seconds": 30.51}],
}

DOC = """# Results

| core | gates | LUTs | Fmax |
|---|---|---|---|
| sumdiff | <!-- fig synth-sumdiff-icebreaker.gates.total -->1,621<!-- /fig --> | \
<!-- fig synth-sumdiff-icebreaker.luts -->761<!-- /fig --> | \
<!-- fig synth-sumdiff-icebreaker.fmax_mhz -->49.4<!-- /fig --> MHz |

Detector: <!-- fig regress-detector.int8_vs_float_decisions.identical -->806,398<!-- /fig -->
of <!-- fig regress-detector.int8_vs_float_decisions.decisions -->806,400<!-- /fig -->
(<!-- fig regress-detector.int8_vs_float_decisions.agreement .4% -->99.9998 %<!-- /fig -->),
mAP <!-- fig regress-detector.map -->0.412<!-- /fig -->, a gate-level run of
<!-- fig regress-detector.levels.netlist=generic-dsp.seconds .0f -->31<!-- /fig --> s.
"""


@pytest.fixture
def reports(tmp_path):
    d = tmp_path / "build" / "reports"
    d.mkdir(parents=True)
    (d / "synth-sumdiff-icebreaker.json").write_text(json.dumps(SYNTH))
    (d / "regress-detector.json").write_text(json.dumps(REGRESS))
    return d


@pytest.fixture
def doc(tmp_path):
    p = tmp_path / "README.md"
    p.write_text(DOC)
    return p


def test_find_figures():
    figs = find_figures(DOC, "README.md")
    assert [f.name for f in figs] == [
        "synth-sumdiff-icebreaker.gates.total", "synth-sumdiff-icebreaker.luts",
        "synth-sumdiff-icebreaker.fmax_mhz", "regress-detector.int8_vs_float_decisions.identical",
        "regress-detector.int8_vs_float_decisions.decisions",
        "regress-detector.int8_vs_float_decisions.agreement", "regress-detector.map",
        "regress-detector.levels.netlist=generic-dsp.seconds"]
    assert [f.text for f in figs][:3] == ["1,621", "761", "49.4"]
    assert [f.line for f in figs] == [5, 5, 5, 7, 8, 9, 10, 11]
    assert figs[5].spec == ".4%" and figs[0].spec is None
    assert all(DOC[f.start:f.end] == f.text for f in figs)


@pytest.mark.parametrize("bad", [
    "<!-- fig synth-x.luts -->12",                        # no closing marker
    "<!-- fig synth-x.luts -->12\n<!-- /fig -->",         # across lines
    "<!-- fig synth-x -->12<!-- /fig -->",                # no key
    "<!-- fig synth-x.luts , extra -->12<!-- /fig -->",   # two specs
])
def test_malformed_marker(bad):
    with pytest.raises(VitgatesError, match=r"x\.md:1: malformed figure marker"):
        find_figures(bad, "x.md")


@pytest.mark.parametrize("value, spec, text", [
    (1604, ",", "1,604"),
    (6451200, ",", "6,451,200"),
    (49.43, ".1f", "49.4"),
    (171.23, ".0f", "171"),
    (0.89512, ".3f", "0.895"),
    (806398 / 806400, ".4%", "99.9998 %"),
    (0.999, ".1%", "99.9 %"),
    (48, "g", "48"),
    (2.5, "g", "2.5"),
])
def test_format_value(value, spec, text):
    assert format_value(value, spec) == text


def test_format_value_refuses():
    with pytest.raises(VitgatesError, match="cannot format"):
        format_value("abc", ",")
    with pytest.raises(VitgatesError, match="cannot format"):
        format_value(True, ",")


def test_default_specs():
    assert default_spec("synth-sumdiff-icebreaker", "gates.total") == ",.0f"
    assert default_spec("synth-detector-ulx3s-85f", "fmax_mhz") == ".1f"
    assert default_spec("synth-board-icebreaker", "link_images_per_second") == ".1f"
    assert default_spec("synth-board-icebreaker", "luts") == ",.0f"  # synth-* applies too
    assert default_spec("regress-popcount", "levels.3.seconds") == ".1f"
    assert default_spec("regress-popcount", "luts") is None
    assert default_spec("synth-popcount-icebreaker", "gates") is None  # not a figure


def test_lookup():
    assert lookup(SYNTH, "gates.total") == 1604
    assert lookup(REGRESS, "levels.1.seconds") == 30.51
    assert lookup(REGRESS, "levels.level=gate.seconds") == 30.51
    assert lookup(REGRESS, "levels.level=gate,netlist=generic-dsp.seconds") == 30.51
    for key in ("gates.OR", "levels.7.seconds", "levels.level=rtl.seconds", "gates",
                "bitstream", "gates.level=x"):
        with pytest.raises(KeyError):
            lookup({**SYNTH, **REGRESS}, key)


def test_rewrite(doc, reports, capsys):
    assert rewrite([doc], reports) == 0
    out = capsys.readouterr().out
    text = doc.read_text()
    figs = {f.name: f.text for f in find_figures(text)}
    assert figs["synth-sumdiff-icebreaker.gates.total"] == "1,604"
    assert figs["synth-sumdiff-icebreaker.luts"] == "779"
    assert figs["synth-sumdiff-icebreaker.fmax_mhz"] == "49.4"
    assert figs["regress-detector.map"] == "0.412"
    assert figs["regress-detector.levels.netlist=generic-dsp.seconds"] == "31"
    assert f"{doc}:5: synth-sumdiff-icebreaker.gates.total: 1,621 -> 1,604" in out
    assert f"{doc}:5: synth-sumdiff-icebreaker.luts: 761 -> 779" in out
    assert "fmax_mhz" not in out  # unchanged figures are not listed
    # only the figures changed: the rest of the text is byte for byte the same
    strip = re.compile(r"-->[^<]*<!--")
    assert strip.sub("--><!--", text) == strip.sub("--><!--", DOC)
    assert check([doc], reports) == 0


def test_rewrite_idempotent(doc, reports, capsys):
    rewrite([doc], reports)
    once = doc.read_text()
    mtime = doc.stat().st_mtime_ns
    capsys.readouterr()
    assert rewrite([doc], reports) == 0
    assert doc.read_text() == once
    assert doc.stat().st_mtime_ns == mtime  # not rewritten when nothing changed
    assert capsys.readouterr().out == ""


def test_rewrite_leaves_figures_of_missing_reports(doc, reports, capsys):
    (reports / "regress-detector.json").unlink()
    rewrite([doc], reports)
    out = capsys.readouterr().out
    text = doc.read_text()
    assert "806,398" in text and "0.412" in text  # left as they were
    assert "1,604" in text
    line = next(ln for ln in out.splitlines() if ln.startswith("left as is"))
    assert "left as is (5):" in line and "regress-detector.json is missing" in line


def test_check_stale(doc, reports, capsys):
    assert check([doc], reports) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert f"{doc}:5: synth-sumdiff-icebreaker.gates.total: reads 1,621, report says 1,604" \
        in lines
    assert f"{doc}:5: synth-sumdiff-icebreaker.luts: reads 761, report says 779" in lines
    assert len(lines) == 3  # the two stale figures and a summary line
    assert doc.read_text() == DOC  # --check changes nothing


def test_check_missing_key_and_report(tmp_path, reports, capsys):
    p = tmp_path / "x.md"
    p.write_text("<!-- fig synth-sumdiff-icebreaker.dsp -->0<!-- /fig -->\n"
                 "<!-- fig synth-sumdiff-icebreaker.colour -->red<!-- /fig -->\n"
                 "<!-- fig synth-popcount-ulx3s-85f.luts -->300<!-- /fig -->\n")
    assert check([p], reports) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith(f"{p}:1: synth-sumdiff-icebreaker.dsp: ")
    assert lines[0].endswith("has no value at dsp")
    assert lines[1].startswith(f"{p}:2: synth-sumdiff-icebreaker.colour: no report key colour")
    assert lines[2].startswith(f"{p}:3: synth-popcount-ulx3s-85f.luts: report ")
    assert lines[2].endswith("synth-popcount-ulx3s-85f.json is missing")


def _run(*args, cwd, env_build):
    import os

    env = {**os.environ, "VITGATES_BUILD": str(env_build)}
    return subprocess.run([sys.executable, "-m", "vitgates", "figures", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env)


def test_command_line(tmp_path, doc, reports):
    (tmp_path / "docs").mkdir()
    other = tmp_path / "docs" / "a.md"
    other.write_text("LUTs: <!-- fig synth-sumdiff-icebreaker.luts -->779<!-- /fig -->\n")
    r = _run("--check", cwd=tmp_path, env_build=reports.parent)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "README.md:5: synth-sumdiff-icebreaker.gates.total: reads 1,621" in r.stdout
    assert "a.md" not in r.stdout
    r = _run(cwd=tmp_path, env_build=reports.parent)
    assert r.returncode == 0, r.stderr
    assert "README.md:5: synth-sumdiff-icebreaker.luts: 761 -> 779" in r.stdout
    assert _run("--check", cwd=tmp_path, env_build=reports.parent).returncode == 0


def test_command_line_only(tmp_path, doc, reports):
    """--only limits the check (and the rewrite) to the reports it names."""
    (tmp_path / "docs").mkdir()
    other = tmp_path / "docs" / "a.md"
    other.write_text("LUTs: <!-- fig synth-popcount-ulx3s-85f.luts -->1<!-- /fig -->\n")
    r = _run("--check", "--only", "synth-popcount-*", cwd=tmp_path, env_build=reports.parent)
    assert r.returncode == 1 and "report " in r.stdout and "README.md" not in r.stdout
    r = _run("--check", "--only", "synth-sumdiff-*", cwd=tmp_path, env_build=reports.parent)
    assert r.returncode == 1 and "a.md" not in r.stdout
    assert _run("--only", "synth-sumdiff-*", cwd=tmp_path, env_build=reports.parent).returncode == 0
    assert "1<!-- /fig -->" in other.read_text()
    assert _run("--check", "--only", "synth-sumdiff-*", cwd=tmp_path,
                env_build=reports.parent).returncode == 0
    r = _run("--check", tmp_path / "none.md", cwd=tmp_path, env_build=reports.parent)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "none.md" in r.stderr


def test_command_line_malformed(tmp_path, reports):
    p = tmp_path / "x.md"
    p.write_text("a\n<!-- fig synth-x.luts -->1\n")
    r = _run("--check", p, cwd=tmp_path, env_build=reports.parent)
    assert r.returncode == 2
    assert r.stderr.strip() == f"vitgates: error: {p}:2: malformed figure marker (want " \
        "'<!-- fig REPORT.KEY [SPEC] -->TEXT<!-- /fig -->' on one line)"


# --- the project's own figures ------------------------------------------------------------

def test_default_files():
    files = default_files(ROOT)
    assert files[0] == ROOT / "README.md"
    assert ROOT / "docs" / "reports.md" in files


def test_project_markers_name_schema_keys():
    """Every figure in README.md and docs/*.md names a key of a report the code writes."""
    figures = [f for p in default_files(ROOT) for f in find_figures(p.read_text(), p)]
    assert len(figures) > 50
    unknown = [f"{f.where}: {f.name}" for f in figures
               if not any(re.fullmatch(p.replace("*", ".*"), f.report) for p in SCHEMA)
               or default_spec(f.report, f.key) is None]
    assert not unknown, unknown
    for f in figures:  # each spec formats a number
        format_value(1234.5, f.spec or default_spec(f.report, f.key))


def test_schema_keys_are_documented():
    """The keys a figure may name are the documented ones: each top-level key of SCHEMA is
    named in docs/reports.md or a page it links for the report's keys."""
    docs = "".join((ROOT / "docs" / n).read_text()
                   for n in ("reports.md", "regress.md", "link.md", "detector.md"))
    named = set(re.findall(r"`([a-z_0-9]+)`", docs))
    missing = sorted({k.split(".")[0] for table in SCHEMA.values() for k in table} - named)
    assert not missing, missing


def test_markers_in_code_are_text():
    text = ("Mark a figure as `<!-- fig REPORT.KEY -->` … `<!-- /fig -->`:\n\n```\n"
            "<!-- fig synth-x.luts -->12<!-- /fig -->\n<!-- fig broken\n```\n"
            "<!-- fig synth-x.luts -->12<!-- /fig -->\n")
    figs = find_figures(text, "x.md")
    assert [(f.line, f.name) for f in figs] == [(7, "synth-x.luts")]
