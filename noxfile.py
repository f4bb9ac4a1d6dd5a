"""The one entry point: ``nox -s <session> [-- args]``.

tests    pytest: unit tests, cocotb testbenches (Verilator; Icarus where installed), one
         real synthesis run, the golden models. The README's test command.
sim      the cocotb testbenches only; ``nox -s sim -- -k popcount`` selects by name.
synth    ``nox -s synth -- --board {icebreaker,ulx3s-85f} [--design NAME]``: bitstreams and
         build/reports/synth-<design>-<board>.{json,md}.
"""

import os

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

# PyTorch is pinned to the release whose CPU wheel this project tests with; pip takes it
# from a local wheel where one is provided and from PyPI elsewhere.
TORCH = "torch==2.13.*"


def _install(session, *extras, torch=False):
    if torch:
        session.install(TORCH)
    spec = ".[" + ",".join(extras) + "]" if extras else "."
    session.install("-e", spec)


def _jobs() -> str:
    return str(max(1, min(4, os.cpu_count() or 1)))


@nox.session
def tests(session):
    """Run the whole test suite (the README's test command)."""
    _install(session, "torch", "dev", torch=True)
    session.run("pytest", "-n", _jobs(), "--durations=15", *session.posargs)


@nox.session
def sim(session):
    """Run the cocotb testbenches only; pass pytest options after --."""
    _install(session, "dev")
    session.run("pytest", "-m", "cocotb", *session.posargs)


@nox.session
def synth(session):
    """Synthesise for a board: nox -s synth -- --board icebreaker [--design popcount]."""
    _install(session)
    if not session.posargs:
        session.error("usage: nox -s synth -- --board {icebreaker,ulx3s-85f} [--design NAME]")
    session.run("vitgates", "synth", *session.posargs)
