"""``vitgates figures``: rewrite the measured figures of README.md and docs/*.md from the
reports under the build root, or (``--check``) list the ones that differ and exit 1.
Markers, keys and formats: :mod:`vitgates.figures`."""

from pathlib import Path

from ..errors import VitgatesError
from ..figures import check, default_files, reports_dir, rewrite

__all__ = ["configure_parser", "run"]


def configure_parser(parser):
    parser.add_argument("files", nargs="*", type=Path,
                        help="Markdown files (default: README.md and docs/*.md)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 listing every figure that differs from "
                             "its report or whose report or key is missing")
    parser.add_argument("--only", action="append", metavar="PATTERN",
                        help="only the figures of reports whose names match (fnmatch, e.g. "
                             "'synth-popcount-*'); may be given more than once")
    parser.add_argument("--reports", type=Path, default=None,
                        help="the reports folder (default: reports/ under the build root)")


def run(args) -> int:
    files = args.files or default_files()
    folder = args.reports or reports_dir()
    try:
        if args.check:
            return check(files, folder, only=args.only)
        return rewrite(files, folder, only=args.only)
    except OSError as e:  # a file named on the command line that cannot be read or written
        raise VitgatesError(f"{e.filename}: {e.strerror}") from None
