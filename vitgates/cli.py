"""The ``vitgates`` command line: one entry point, one subcommand per job.

Each subcommand is a module of :mod:`vitgates.commands` (the top layer of
docs/ARCHITECTURE.md: all argparse code lives there) exposing two functions,
``configure_parser(parser)`` and ``run(args) -> int``; the work itself is done by the layers
below. Modules are imported only when their subcommand runs (the import is by name, from
:data:`COMMANDS`), so ``vitgates synth`` never imports PyTorch and ``vitgates --help`` stays
fast. ``synth`` and ``host`` still keep their command line in ``vitgates.fpga``.

Errors meant for the user are :class:`~vitgates.errors.VitgatesError`: they are printed as one
line, ``vitgates: error: ...``, and the exit status is 2.
"""

import argparse
import importlib
import sys

from .errors import VitgatesError

__all__ = ["COMMANDS", "main"]

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "backbone": ("vitgates.commands.backbone", "seed 000 backbone reductions and student"),
    "detector-head": (
        "vitgates.commands.detector",
        "check an INT8 detector weight file, or convert a float detection head to one",
    ),
    "features": (
        "vitgates.commands.features",
        "extract backbone features into a cache, write the synthetic world, inspect a cache",
    ),
    "figures": (
        "vitgates.commands.figures",
        "rewrite the measured figures of README.md and docs/*.md from build/reports",
    ),
    "flash": (
        "vitgates.commands.flash",
        "program a board with its bitstream (iceprog or openFPGALoader); --dry-run prints it",
    ),
    "heads": ("vitgates.commands.heads", "seed 002 detection heads: train, eval, params"),
    "host": (
        "vitgates.commands.host",
        "stream features to a board over its UART, compare its decisions, write a report",
    ),
    "person-config": (
        "vitgates.commands.person",
        "check a person-classifier config, or derive one from a float classifier",
    ),
    "proofs": (
        "vitgates.commands.proofs",
        "compile the Coq proofs and prove the RTL's formal properties (build/reports/proofs.*)",
    ),
    "regress": (
        "vitgates.commands.regress",
        "float, INT8, RTL and gate-level runs: F1/mAP and agreement in build/reports/regress-*",
    ),
    "synth": (
        "vitgates.commands.synth",
        "synthesise a design for a board and write build/reports/synth-<design>-<board>.*",
    ),
    "train": (
        "vitgates.commands.train",
        "fit the float person classifier or train the float detection head",
    ),
    "vectors": (
        "vitgates.commands.vectors",
        "write reference vectors: inputs with golden float and integer outputs",
    ),
}


def _build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitgates",
        description="Vision-transformer features to decisions in FPGA gates.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == command:
            importlib.import_module(module).configure_parser(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        command = None
    parser = _build_parser(command)
    args = parser.parse_args(argv)
    try:
        return int(importlib.import_module(COMMANDS[args.command][0]).run(args) or 0)
    except VitgatesError as e:
        print(f"vitgates: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vitgates: interrupted", file=sys.stderr)
        return 130
