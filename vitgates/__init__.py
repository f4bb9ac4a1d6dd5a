"""vitgates: frozen vision-transformer features to decisions in FPGA gates.

The repository keeps one folder per layer (see docs/ARCHITECTURE.md); each is installed as a
subpackage of this one:

- ``vitgates.features`` the on-disk cache, COCO loading, the synthetic data; extraction.
- ``vitgates.golden``   reference models: float (PyTorch, optional) and integer (numpy).
- ``vitgates.hw``       Amaranth gateware, one component per file.
- ``vitgates.sim``      simulation harness, netlists, cocotb testbenches and runners.
- ``vitgates.fpga``     designs, board tops, synthesis flows, flashing, the host client.
- ``vitgates.regress``  the regression over every level, its reports and plots.
- ``vitgates.commands`` the subcommands of the ``vitgates`` command line.

The modules here are the core every layer may import: ``errors``, ``fileio``, ``paths``
(the build folder), ``reports`` and ``toolchain``.
"""

from .errors import VitgatesError

__all__ = ["VitgatesError", "__version__"]

__version__ = "0.1.0"
