"""Every command the README shows is exercised in CI.

The README's commands are read from its code blocks and inline code: ``nox -s SESSION ...``
and ``vitgates COMMAND [ACTION] ...``. A nox session is exercised when ``.ci/run`` runs it; a
``vitgates`` command when a test here runs it at a small size (``SMOKE``), when another test
calls it (``main(["command", "action", ...])`` or ``"vitgates", "command"`` in a subprocess),
or when a nox session that ``.ci/run`` runs calls it. A command added to the README without
any of these fails :func:`test_every_readme_command_is_exercised`.

Every subcommand's ``--help`` runs too, so a broken parser shows here and not in a user's
terminal.
"""

import argparse
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from vitgates.cli import COMMANDS, _build_parser, main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"
NOXFILE = ROOT / "noxfile.py"


# -- what the README shows --------------------------------------------------------------------


def readme_commands(text: str) -> list[str]:
    """Commands in fenced code blocks (one a line) and in inline code spans."""
    out = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            out += [part.strip() for part in line.split("&&")]
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    out += [m.strip() for m in re.findall(r"`([^`\n]+)`", prose)]
    return [c for c in out if re.match(r"(nox -s |vitgates )\S", c)]


def _actions(command: str) -> set[str]:
    """The actions of a ``vitgates`` command that has them (``features extract``...)."""
    parser = _build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    inner = sub.choices[command]
    return {name for a in inner._actions if isinstance(a, argparse._SubParsersAction)
            for name in a.choices}


def command_key(cmd: str) -> str:
    """``nox -s regress -- -n 5`` -> ``nox -s regress``; ``vitgates features extract --out
    X`` -> ``vitgates features extract``; ``vitgates host --port P`` -> ``vitgates host``."""
    words = shlex.split(cmd.replace("\\|", "|"))
    if words[0] == "nox":
        return " ".join(words[:3])
    command = words[1]
    if command not in COMMANDS:
        raise AssertionError(f"the README shows `{cmd}`, but vitgates has no {command!r}")
    if len(words) > 2 and words[2] in _actions(command):
        return f"vitgates {command} {words[2]}"
    return f"vitgates {command}"


def _ci_sessions() -> set[str]:
    sessions = set()
    for line in CI_RUN.read_text().splitlines():
        line = line.split("#", 1)[0]
        sessions |= set(re.findall(r"\bnox -s (\w[\w-]*)", line))
    return sessions


def _session_commands(sessions: set[str]) -> set[str]:
    """``vitgates X`` keys that the given nox sessions run (``session.run("vitgates", X``)."""
    text = NOXFILE.read_text()
    keys = set()
    for m in re.finditer(r"^def (\w+)\(session\):\n(.*?)(?=^\S|\Z)", text, re.S | re.M):
        if m.group(1) in sessions:
            for cmd in re.findall(r'session\.run\(\s*"vitgates",\s*"([\w-]+)"', m.group(2)):
                keys.add(f"vitgates {cmd}")
    return keys


def _test_commands() -> set[str]:
    """``vitgates`` keys that tests call: ``main(["a", "b"`` or ``"vitgates", "a", "b"``."""
    keys = set()
    for f in Path(__file__).parent.glob("test_*.py"):
        if f.name == Path(__file__).name:
            continue
        text = f.read_text()
        for m in re.finditer(r'(?:main\(\[|"vitgates",)\s*"([\w-]+)"(?:,\s*"([\w-]+)")?',
                             text):
            command, action = m.group(1), m.group(2)
            if command not in COMMANDS:
                continue
            keys.add(f"vitgates {command}")
            if action:
                keys.add(f"vitgates {command} {action}")
    return keys


def test_readme_commands_are_found():
    keys = {command_key(c) for c in readme_commands(README.read_text())}
    # the parser sees the Quickstart, the sessions table and the command table
    assert {"nox -s tests", "nox -s regress", "nox -s flash", "vitgates features extract",
            "vitgates detector-head check", "vitgates host"} <= keys


def test_every_readme_command_is_exercised():
    sessions = _ci_sessions()
    exercised = ({f"nox -s {s}" for s in sessions} | set(SMOKE) | _test_commands()
                 | _session_commands(sessions))
    missing = sorted({command_key(c) for c in readme_commands(README.read_text())}
                     - exercised)
    assert not missing, ("README commands that CI never runs (add them to .ci/run or to "
                         f"SMOKE in {Path(__file__).name}): {', '.join(missing)}")


def test_quickstart_order_in_ci():
    """CI runs the README's two Quickstart lines in the README's order."""
    quick = re.search(r"## Quickstart.*?```\n(.*?)```", README.read_text(), re.S).group(1)
    sessions = [re.search(r"nox -s (\w+)", ln).group(1) for ln in quick.splitlines()
                if "nox -s" in ln]
    lines = [ln.split("#", 1)[0] for ln in CI_RUN.read_text().splitlines()]
    first = [next(i for i, ln in enumerate(lines) if re.search(rf"\bnox -s {s}\b", ln))
             for s in sessions]
    assert first == sorted(first), f"CI runs {sessions} in another order"


def test_checker_sees_a_command_missing_from_ci():
    """The check above fails for a command that nothing runs (it can fail)."""
    assert command_key("vitgates features inspect CACHE --verify") == "vitgates features inspect"
    assert command_key("nox -s nosuch -- -x") == "nox -s nosuch"
    assert "nox -s nosuch" not in {f"nox -s {s}" for s in _ci_sessions()}
    with pytest.raises(AssertionError, match="no 'nosuch'"):
        command_key("vitgates nosuch --x")


# -- every subcommand's --help -----------------------------------------------------------------


def _help_cases():
    cases = []
    for command in COMMANDS:
        cases.append([command, "--help"])
        cases += [[command, action, "--help"] for action in sorted(_actions(command))]
    return cases


@pytest.mark.parametrize("argv", _help_cases(), ids=lambda a: " ".join(a[:-1]))
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("usage: vitgates")


# -- README commands that no other test runs, at a small size ----------------------------------


def _tiny_images(folder: Path, n: int = 2) -> Path:
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(n):
        Image.fromarray(rng.integers(0, 255, (48 + 8 * k, 64, 3), dtype=np.uint8)).save(
            folder / f"img{k}.png")
    return folder


def _tiny_checkpoint(path: Path) -> Path:
    from conftest import require_torch

    torch = require_torch()
    from vitgates.golden.backbone import eupe_vit

    torch.save(eupe_vit("vitt16").state_dict(), path)
    return path


def _smoke_features_extract(tmp: Path):
    weights = _tiny_checkpoint(tmp / "eupe_vitt16.pth")
    images = _tiny_images(tmp / "imgs")
    assert main(["features", "extract", "--weights", str(weights), "--arch", "vitt16",
                 "--images", str(images), "--out", str(tmp / "cache"), "--resolution", "64",
                 "--batch-size", "2"]) == 0
    assert main(["features", "inspect", str(tmp / "cache"), "--verify"]) == 0


def _smoke_person_config(tmp: Path):
    assert main(["person-config", "fit", "-o", str(tmp / "config.json")]) == 0
    assert main(["person-config", "check", str(tmp / "config.json")]) == 0
    assert len(json.loads((tmp / "config.json").read_text())["pos_dims"]) == 20


#: README command -> a run of it at a small size (its real code path, tiny data)
SMOKE = {
    "vitgates features extract": _smoke_features_extract,
    "vitgates person-config fit": _smoke_person_config,
    "vitgates person-config check": _smoke_person_config,
}


@pytest.mark.parametrize("run", sorted(set(SMOKE.values()), key=lambda f: f.__name__),
                         ids=lambda f: f.__name__.removeprefix("_smoke_"))
def test_smoke(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VITGATES_BUILD", str(tmp_path / "build"))
    run(tmp_path)
