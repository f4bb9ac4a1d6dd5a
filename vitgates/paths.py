"""Where vitgates writes: the build root and its sub-folders, defined once.

``$VITGATES_BUILD`` moves the whole tree; without it everything lands in ``build/`` under the
current folder. Nothing here creates a folder except :func:`build_path` with ``mkdir=True``.
"""

import os
from pathlib import Path

__all__ = ["BUILD_ENV", "build_path", "build_root"]

#: The environment variable that moves the build root.
BUILD_ENV = "VITGATES_BUILD"


def build_root() -> Path:
    """``$VITGATES_BUILD``, else ``build`` (relative to the current folder, not resolved)."""
    return Path(os.environ.get(BUILD_ENV, "build"))


def build_path(*parts: str, mkdir: bool = False) -> Path:
    """``build_root() / parts...``; with ``mkdir`` the folder is created (parents too)."""
    p = build_root().joinpath(*parts)
    if mkdir:
        p.mkdir(parents=True, exist_ok=True)
    return p
