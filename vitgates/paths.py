"""Where vitgates writes: the build root and its folders, defined once.

Everything a command produces goes under the build root: ``$VITGATES_BUILD`` when set,
``build`` in the current folder otherwise.
"""

import os
from pathlib import Path

__all__ = ["build_root"]


def build_root() -> Path:
    """The build root (``$VITGATES_BUILD``, default ``build``), not resolved."""
    return Path(os.environ.get("VITGATES_BUILD") or "build")
