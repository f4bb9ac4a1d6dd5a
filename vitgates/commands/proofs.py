"""``vitgates proofs``: compile the Coq proofs and prove the RTL's formal properties; write
``build/reports/proofs.{json,md}``. What is checked: :mod:`vitgates.sim.formal`.
"""

import argparse
import time
from pathlib import Path

from ..paths import build_root
from ..sim.formal import run_checks, write_reports

__all__ = ["configure_parser", "run"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--part", choices=("coq", "rtl", "all"), default="all",
                        help="which checks to run (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="RTL: one configuration and the shortest pipelines only")
    parser.add_argument("--build", default=None,
                        help="build folder (default: $VITGATES_BUILD, else build)")


def run(args) -> int:
    build = Path(args.build or build_root()).resolve()
    t0 = time.monotonic()
    results = run_checks(args.part, quick=args.quick, build=build)
    seconds = time.monotonic() - t0
    j, md = write_reports(results, build, seconds)
    failed = [r for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {seconds:.0f} s; "
          f"reports: {j}, {md}")
    return 1 if failed else 0
