"""The regression (``vitgates regress``): every design through golden float, golden INT8,
RTL and gate-level simulation, with metrics, agreement tables and plots (docs/regress.md).

Above ``sim`` and ``fpga`` in the layers of docs/ARCHITECTURE.md: it drives their harnesses
and reads the designs' registry; nothing below imports it.
"""
