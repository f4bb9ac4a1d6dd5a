"""amaranth.sim drivers for the detector's components (shared by their unit tests)."""

import numpy as np

from vitgates.golden.cofiber import to_stream
from vitgates.golden.detector import pack_thresholds, pack_weights

from streams import stream_get, stream_put

__all__ = ["load_weights", "load_thresholds", "put_features", "get_records", "records_of"]


async def load_weights(ctx, port, head, folding):
    addr, words = pack_weights(head, folding)
    for a, w in zip(addr.tolist(), words.tolist(), strict=True):
        await stream_put(ctx, port, {"addr": a, "data": w})


async def load_thresholds(ctx, port, head):
    for b, k, v in zip(*(x.tolist() for x in pack_thresholds(head)), strict=True):
        await stream_put(ctx, port, {"band": b, "cls": k, "data": v})


async def put_features(ctx, port, frames, lanes, staller=None):
    """Stream INT8 grids [H, W, C] in 4×4-block-major order, ``lanes`` channels a transfer."""
    for q in frames:
        s = to_stream(q).reshape(-1, lanes)
        for row in s.tolist():
            await stream_put(ctx, port, row, staller)


async def get_records(ctx, port, n_frames, staller=None, box_rows=4):
    """Collect records until ``n_frames`` end records: a list (per frame) of tuples
    ``(band, y, x, cls, acc, box...)``."""
    frames, cur = [], []
    while len(frames) < n_frames:
        r = await stream_get(ctx, port, staller)
        if r.end:
            frames.append(cur)
            cur = []
            continue
        box = tuple(int(r.box[j]) for j in range(box_rows)) if box_rows else ()
        cur.append((int(r.band), int(r.y), int(r.x), int(r.cls), int(r.acc)) + box)
    return frames


def records_of(dets: np.ndarray):
    """Golden records (``ref_detect``) as the tuples :func:`get_records` returns."""
    out = []
    for d in dets:
        box = tuple(int(v) for v in d["box"]) if "box" in d.dtype.names else ()
        out.append((int(d["band"]), int(d["y"]), int(d["x"]), int(d["cls"]), int(d["acc"]))
                   + box)
    return out

