"""vitgates: frozen vision-transformer features to decisions in FPGA gates.

The repository keeps one folder per layer (see docs/ARCHITECTURE.md); each is installed as a
subpackage of this one:

- ``vitgates.golden``   reference models: float (PyTorch, optional) and integer (numpy).
- ``vitgates.features`` feature extraction, the on-disk cache, the synthetic default data.
- ``vitgates.hw``       Amaranth gateware, one component per file.
- ``vitgates.sim``      cocotb testbenches, simulator runners, regression reports.
- ``vitgates.fpga``     synthesis flows, board tops, reports, flashing, the host client.
"""

from .errors import VitgatesError

__all__ = ["VitgatesError", "__version__"]

__version__ = "0.1.0"
