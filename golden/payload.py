"""Stream payloads as integers: the one packer between named field values and the bits of
an Amaranth ``data.StructLayout``, and back.

Simulators, testbenches and the link move each transfer as one integer, the payload's bits;
these helpers translate between those integers and the fields of a layout, reading every
offset and width from the layout itself. :func:`pack` and :func:`unpack` do one payload
(``layout.const`` / ``layout.from_bits``); :func:`pack_payloads` and :func:`unpack_payloads`
do columns of many (nested ``data.ArrayLayout`` fields become an extra axis). Values are
truncated to their fields on the way in; signed fields are sign-extended on the way out.
numpy and ``amaranth.lib.data`` only (no gateware).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["pack", "unpack", "field_specs", "pack_payloads", "unpack_payloads"]


def pack(layout, values: dict) -> int:
    """The bits of one payload from its field values (a dict; missing fields 0, an array
    field a sequence of its elements)."""
    return data.Layout.cast(layout).const(values).as_value().value


def unpack(layout, value: int) -> dict:
    """The field values of one payload's bits: ints, a tuple of ints for an array field."""
    layout = data.Layout.cast(layout)
    c = layout.from_bits(int(value) & ((1 << layout.size) - 1))
    out = {}
    for name, f in layout:
        if isinstance(f.shape, data.ArrayLayout):
            out[name] = tuple(int(x) for x in c[name])
        elif isinstance(f.shape, data.Layout):
            raise ValueError(f"field {name!r}: nested struct layouts are not supported")
        else:
            out[name] = int(c[name])
    return out


def _leaf(shape) -> tuple[int, bool]:
    s = Shape.cast(shape)
    return s.width, s.signed


def field_specs(layout) -> list[tuple[str, int, int, bool, int]]:
    """``(name, offset, width, signed, count)`` per field of a struct layout; ``count`` is
    the number of elements of an array field (1 for a plain field, whose ``width`` is its
    own; for an array ``width`` is one element's and elements follow at ``offset + e·width``)."""
    layout = data.Layout.cast(layout)
    out = []
    for name, f in layout:
        shape = f.shape
        if isinstance(shape, data.ArrayLayout):
            w, sg = _leaf(shape.elem_shape)
            out.append((name, f.offset, w, sg, shape.length))
        elif isinstance(shape, data.Layout):
            raise ValueError(f"field {name!r}: nested struct layouts are not supported")
        else:
            w, sg = _leaf(shape)
            out.append((name, f.offset, w, sg, 1))
    return out


def pack_payloads(layout, columns: Sequence) -> list[int]:
    """Payload integers of ``n`` transfers from one column per field, in the layout's field
    order (an array field's column is ``[n, count]``); values are masked to their width."""
    specs = field_specs(layout)
    if len(columns) != len(specs):
        raise ValueError(f"layout has fields {[s[0] for s in specs]}, got {len(columns)} "
                         "columns")
    cols = [np.asarray(c) for c in columns]
    n = len(cols[0])
    out = [0] * n
    for (name, off, w, _, count), col in zip(specs, cols, strict=True):
        if len(col) != n:
            raise ValueError(f"column {name!r} has {len(col)} values, expected {n}")
        per = col.size // n if n else count
        if per != count or col.size != n * count:
            raise ValueError(f"column {name!r} has {per} elements per transfer, expected "
                             f"{count}")
        col = col.reshape(n, count)
        mask = (1 << w) - 1
        for e in range(count):
            shift = off + e * w
            for i, v in enumerate(col[:, e].tolist()):
                out[i] |= (int(v) & mask) << shift
    return out


def unpack_payloads(layout, values: Sequence[int]) -> dict:
    """Field arrays (int64; ``[n, count]`` for array fields) of payload integers."""
    specs = field_specs(layout)
    vals = [int(v) for v in values]
    out = {}
    for name, off, w, sg, count in specs:
        a = np.zeros((len(vals), count), np.int64)
        mask = (1 << w) - 1
        for e in range(count):
            shift = off + e * w
            col = [(v >> shift) & mask for v in vals]
            if sg:
                col = [x - (1 << w) if x >> (w - 1) else x for x in col]
            a[:, e] = col
        out[name] = a if count > 1 else a[:, 0]
    return out
