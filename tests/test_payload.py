"""The one payload packer (golden/payload.py): pack and unpack are inverse on random and
edge values, the single-payload and the column forms agree bit for bit, the bits are those
of Amaranth's own ``layout.const``, and the detector's wire formats round-trip through it.
(The column packer's offsets are also checked in tests/test_regress.py.)"""

import random

import numpy as np
import pytest
from amaranth import Shape, signed
from amaranth.lib import data

from vitgates.golden.detector_formats import DetectorShape
from vitgates.golden.payload import pack, pack_payloads, unpack, unpack_payloads

LAYOUTS = {
    "record": DetectorShape((8, 12), 16, 7, 4, 4, 2).record_layout,
    "record-no-box": DetectorShape((4, 4), 32, 3, 0, 2, 4).record_layout,
    "weight": DetectorShape((8, 8), 16, 7, 4, 4, 2).weight_layout,
    "threshold": DetectorShape().threshold_layout,
    "odd": data.StructLayout({"one": 1, "r": range(5), "s": signed(1), "wide": signed(64),
                              "arr": data.ArrayLayout(signed(3), 4), "u": 9}),
}


def _bounds(shape) -> tuple[int, int]:
    """The smallest and largest value of a leaf field."""
    s = Shape.cast(shape)
    if s.signed:
        return -(1 << (s.width - 1)), (1 << (s.width - 1)) - 1
    return 0, (1 << s.width) - 1


def _edge_values(layout, rng, kind):
    """Field values: every field at its minimum, its maximum, or random."""
    out = {}
    for name, f in layout:
        leaf = f.shape.elem_shape if isinstance(f.shape, data.ArrayLayout) else f.shape
        lo, hi = _bounds(leaf)
        n = f.shape.length if isinstance(f.shape, data.ArrayLayout) else 1
        vals = [lo if kind == "min" else hi if kind == "max" else rng.randint(lo, hi)
                for _ in range(n)]
        out[name] = tuple(vals) if isinstance(f.shape, data.ArrayLayout) else vals[0]
    return out


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_pack_unpack_round_trip(name):
    layout = LAYOUTS[name]
    rng = random.Random(name)
    cases = [_edge_values(layout, rng, k) for k in ("min", "max")]
    cases += [_edge_values(layout, rng, "random") for _ in range(200)]
    for values in cases:
        bits = pack(layout, values)
        assert 0 <= bits < 1 << layout.size
        assert bits == layout.const(values).as_value().value
        assert unpack(layout, bits) == values
    # all zeros and all ones are payloads too
    assert pack(layout, unpack(layout, 0)) == 0
    ones = (1 << layout.size) - 1
    assert pack(layout, unpack(layout, ones)) == ones
    # the column form (int64 columns: fields up to 64 bits) agrees with the single form
    columns = [np.array([v[n] for v in cases], np.int64) for n, _ in layout]
    ints = pack_payloads(layout, columns)
    assert ints == [pack(layout, v) for v in cases]
    back = unpack_payloads(layout, ints)
    for n, _ in layout:
        want = [list(v[n]) if isinstance(v[n], tuple) else v[n] for v in cases]
        assert back[n].tolist() == want, n


def test_pack_truncates_and_fills():
    layout = LAYOUTS["odd"]
    assert pack(layout, {}) == 0
    assert unpack(layout, pack(layout, {"u": 512 + 3})) == unpack(layout, pack(layout, {"u": 3}))
    assert unpack(layout, pack(layout, {"s": 1}))["s"] == -1  # one signed bit: -1 or 0
    assert unpack(layout, 1 << layout.size)["one"] == 0  # bits above the payload dropped


@pytest.mark.parametrize("args", [((8, 12), 16, 7, 4, 4, 2), ((4, 4), 32, 3, 0, 2, 4),
                                  ((40, 40), 768, 80, 4, 4, 2)])
def test_detector_records_round_trip(args):
    shape = DetectorShape(*args)
    v = shape.value_width
    H, W = shape.grid
    lo, hi = -(1 << (v - 1)), (1 << (v - 1)) - 1
    box = shape.box_rows
    for values in [
        {"end": 0, "band": 2, "y": H - 1, "x": W - 1, "cls": shape.n_classes - 1, "acc": hi,
         "box": (lo,) * box},
        {"end": 1, "band": 0, "y": 0, "x": 0, "cls": 0, "acc": 0, "box": (0,) * box},
        {"end": 0, "band": 1, "y": 1, "x": 2, "cls": 1, "acc": lo,
         "box": tuple(hi - k for k in range(box))},
    ]:
        raw = shape.record(values if box else {k: x for k, x in values.items() if k != "box"})
        assert len(raw) == shape.record_bytes
        assert shape.parse_record(raw) == values
