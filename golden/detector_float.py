"""The float cofiber linear detection head (seed 001, ``linear_70k``) in numpy, and its
decoding and COCO evaluation. No PyTorch: training is in :mod:`.detector_train`.

**Bands.** On a float grid ``x`` [H, W, C] (H, W divisible by 4), with ``pool`` the 2×2
average and ``up`` nearest-neighbour upsampling by 2::

    band0 = x − up(pool(x))                 stride 16, [H,   W,   C]
    band1 = pool(x) − up(pool(pool(x)))     stride 32, [H/2, W/2, C]
    band2 = pool(pool(x))                   stride 64, [H/4, W/4, C]

These are exactly the float meanings of the integer bands of docs/arithmetic.md
(``band0/4``, ``band1/16``, ``band2/16`` in units of the feature scale).

**Head.** One weight matrix ``weight`` [R, C] and bias [R] shared by the three bands:
rows 0..79 are the class logits (COCO order, :data:`~vitgates.features.coco.COCO_CATEGORIES`),
rows 80..83 the box regression ``(l, t, r, b)``, and, in a float checkpoint that has it,
row 84 the centerness logit (trained with the seed's loss, never exported: the hardware
decides on the class logits alone, so the float decision rule is ``logit > threshold``).

**Boxes.** A location ``(i, j)`` of band ``k`` (stride ``s = 16·2^k``) sits at pixel
``((j + 0.5)·s, (i + 0.5)·s)`` of the letterboxed image; its box is
``(cx − h·e^l, cy − h·e^t, cx + h·e^r, cy + h·e^b)`` with ``h = s/2`` (half a cell, so
regression values of 0 give exactly the location's own cell: the size of object that lands
in that band) and the regression values clipped to at most :data:`MAX_LOG_DIST` before the
exponential. Scores are ``sigmoid(logit)``.
Detections are kept above a score threshold, suppressed per class (IoU 0.5) and capped
at 100 per image, as in the seeds' evaluation protocol.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools.cocoeval import COCOeval
from safetensors import safe_open
from safetensors.numpy import save

from ..errors import VitgatesError
from ..features.coco import CATEGORY_IDS, coco_from_dict
from ..fileio import atomic_write_bytes

__all__ = [
    "BOX_ROWS",
    "CTR_ROW",
    "MAX_LOG_DIST",
    "NUM_CLASSES",
    "STRIDES",
    "Detections",
    "FloatDetectorHead",
    "BAND_FACTORS",
    "band_locations",
    "choose_feature_scale",
    "cofiber_bands",
    "coco_map",
    "float_decisions",
    "handover",
    "decode_boxes",
    "detections_to_coco",
    "nms",
    "per_class_nms",
]

NUM_CLASSES = 80
BOX_ROWS = slice(80, 84)
CTR_ROW = 84
STRIDES = (16, 32, 64)
MAX_LOG_DIST = 8.0
#: float band = integer band × factor × feature scale (docs/arithmetic.md)
BAND_FACTORS = (1 / 4, 1 / 16, 1 / 16)
FORMAT = "vitgates-float-detector"


def _pool(x: np.ndarray) -> np.ndarray:
    H, W = x.shape[-3], x.shape[-2]
    y = x.reshape(*x.shape[:-3], H // 2, 2, W // 2, 2, x.shape[-1])
    return y.mean(axis=(-4, -2))


def _up(x: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(x, 2, axis=-3), 2, axis=-2)


def cofiber_bands(x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three float cofiber bands of a grid [..., H, W, C] (see module docstring).

    Computed in float64 for a float64 input, else float32.
    """
    x = np.asarray(x)
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32)
    H, W = x.shape[-3], x.shape[-2]
    if H % 4 or W % 4:
        raise ValueError(f"grid {H}x{W} is not divisible by 4")
    p1 = _pool(x)
    p2 = _pool(p1)
    return x - _up(p1), p1 - _up(p2), p2


def band_locations(grid_hw: tuple[int, int]) -> list[np.ndarray]:
    """Pixel centres of every location of each band: [h·w, 2] float32 ``(cx, cy)``,
    row-major, for the three bands of an ``H × W`` stride-16 grid."""
    H, W = grid_hw
    out = []
    for k, s in enumerate(STRIDES):
        h, w = H >> k, W >> k
        ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        out.append(np.stack([(xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s], 1)
                   .astype(np.float32))
    return out


def decode_boxes(reg: np.ndarray, centres: np.ndarray, stride: float) -> np.ndarray:
    """``(l, t, r, b)`` regression values [n, 4] at ``centres`` [n, 2] -> boxes [n, 4]
    ``x0, y0, x1, y1`` (float32 pixels), with distances ``(stride/2)·exp(min(v, 8))``."""
    d = 0.5 * stride * np.exp(np.minimum(np.asarray(reg, np.float64), MAX_LOG_DIST))
    c = np.asarray(centres, np.float64)
    return np.stack([c[:, 0] - d[:, 0], c[:, 1] - d[:, 1],
                     c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]], 1).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, highest score first."""
    b = np.asarray(boxes, np.float64)
    order = np.argsort(-np.asarray(scores), kind="stable")
    area = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        x0 = np.maximum(b[i, 0], b[rest, 0])
        y0 = np.maximum(b[i, 1], b[rest, 1])
        x1 = np.minimum(b[i, 2], b[rest, 2])
        y1 = np.minimum(b[i, 3], b[rest, 3])
        inter = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
        ious = inter / np.maximum(area[i] + area[rest] - inter, 1e-12)
        order = rest[ious <= iou]
    return np.asarray(keep, np.int64)


def per_class_nms(boxes, scores, classes, bands, nms_iou: float = 0.5,
                  max_det: int = 100) -> Detections:
    """:func:`nms` within each class, then the ``max_det`` best overall, highest score
    first (the detection protocol of the float head and of the hardware's host side)."""
    keep = []
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        keep.extend(idx[nms(boxes[idx], scores[idx], nms_iou)])
    keep = np.asarray(keep, np.int64)
    keep = keep[np.argsort(-scores[keep], kind="stable")][:max_det]
    return Detections(boxes[keep], scores[keep].astype(np.float32),
                      classes[keep].astype(np.int64), bands[keep].astype(np.int64))


@dataclass
class Detections:
    """Detections of one image on the letterboxed canvas: ``boxes`` [n, 4] float32
    ``x0, y0, x1, y1``; ``scores`` [n] float32; ``classes`` [n] int64 rows 0..79;
    ``bands`` [n] int64 (0, 1, 2)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    bands: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


@dataclass
class FloatDetectorHead:
    """The float linear head: ``weight`` [R, 768] float32, ``bias`` [R] float32 with
    R = 84 (classes + box) or 85 (+ centerness). ``meta`` holds provenance (dataset,
    steps, metrics; ``synthetic`` where it applies)."""

    weight: np.ndarray
    bias: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.weight = np.asarray(self.weight, np.float32)
        self.bias = np.asarray(self.bias, np.float32)
        R = self.weight.shape[0]
        if self.weight.ndim != 2 or R not in (84, 85) or self.bias.shape != (R,):
            raise VitgatesError(
                f"float detector head must be weight [84|85, C] and bias [84|85], got "
                f"{list(self.weight.shape)} and {list(self.bias.shape)}"
            )

    @property
    def has_centerness(self) -> bool:
        return self.weight.shape[0] == 85

    def raw(self, grid) -> list[np.ndarray]:
        """Per band, the head outputs [h, w, R] float32 for one grid [H, W, C]."""
        return [b @ self.weight.T + self.bias for b in cofiber_bands(grid)]

    def detect(self, grid, *, score_thresh: float = 0.05, nms_iou: float = 0.5,
               max_det: int = 100, pre_nms: int = 1000,
               use_centerness: bool = False) -> Detections:
        """Detections of one grid [H, W, C] (see the module docstring for the protocol).

        ``use_centerness``: score ``sqrt(sigmoid(cls)·sigmoid(ctr))`` as FCOS does; off by
        default because the hardware's decision reads the class logit only.
        """
        return self.detect_raw(self.raw(grid), score_thresh=score_thresh, nms_iou=nms_iou,
                               max_det=max_det, pre_nms=pre_nms,
                               use_centerness=use_centerness)

    def detect_raw(self, raw: list[np.ndarray], *, score_thresh: float = 0.05,
                   nms_iou: float = 0.5, max_det: int = 100, pre_nms: int = 1000,
                   use_centerness: bool = False) -> Detections:
        """:meth:`detect` from head outputs already computed (``raw``: per band
        [h, w, R], as :meth:`raw` returns them)."""
        H, W = raw[0].shape[0], raw[0].shape[1]
        locs = band_locations((H, W))
        all_boxes, all_scores, all_cls, all_band = [], [], [], []
        for k, out in enumerate(raw):
            out = out.reshape(-1, out.shape[-1])
            scores = _sigmoid(out[:, :NUM_CLASSES].astype(np.float64))
            if use_centerness and self.has_centerness:
                scores = np.sqrt(scores * _sigmoid(out[:, CTR_ROW:CTR_ROW + 1]))
            loc, cls = np.nonzero(scores > score_thresh)
            if loc.size == 0:
                continue
            sc = scores[loc, cls]
            if sc.size > pre_nms:
                top = np.argsort(-sc, kind="stable")[:pre_nms]
                loc, cls, sc = loc[top], cls[top], sc[top]
            all_boxes.append(decode_boxes(out[loc, BOX_ROWS], locs[k][loc], STRIDES[k]))
            all_scores.append(sc)
            all_cls.append(cls)
            all_band.append(np.full(loc.size, k))
        if not all_scores:
            z = np.zeros(0)
            return Detections(np.zeros((0, 4), np.float32), z.astype(np.float32),
                              z.astype(np.int64), z.astype(np.int64))
        boxes = np.concatenate(all_boxes)
        scores = np.concatenate(all_scores)
        cls = np.concatenate(all_cls)
        band = np.concatenate(all_band)
        return per_class_nms(boxes, scores, cls, band, nms_iou, max_det)

    # -- files -----------------------------------------------------------------------------

    def save(self, path) -> Path:
        """Write a safetensors file (``weight``, ``bias``; ``meta`` as JSON metadata),
        atomically."""
        path = Path(path)
        blob = save({"weight": self.weight, "bias": self.bias},
                    metadata={"format": FORMAT, "meta": json.dumps(self.meta)})
        atomic_write_bytes(path, blob)
        return path

    @classmethod
    def load(cls, path) -> FloatDetectorHead:
        """Read a file written by :meth:`save`; one-line errors."""
        path = Path(path)
        if not path.is_file():
            raise VitgatesError(f"{path}: no such float detector file")
        try:
            with safe_open(str(path), framework="numpy") as f:
                md = f.metadata() or {}
                if md.get("format") != FORMAT:
                    raise VitgatesError(f"{path}: not a float detector head file")
                w, b = f.get_tensor("weight"), f.get_tensor("bias")
                meta = json.loads(md.get("meta", "{}"))
        except VitgatesError:
            raise
        except Exception as e:
            raise VitgatesError(f"{path}: cannot read float detector head "
                                f"({type(e).__name__})") from None
        return cls(w, b, meta)


def choose_feature_scale(grids, percentile: float = 99.9) -> float:
    """A feature scale for INT8 grids: the ``percentile`` of ``|x|`` over ``grids``
    (any float array, e.g. [n, H, W, C]) mapped to 127."""
    a = np.abs(np.asarray(grids, np.float32)).ravel()
    p = float(np.percentile(a, percentile))
    if not p > 0:
        raise ValueError("grids are all zero")
    return p / 127


def float_decisions(head: FloatDetectorHead, grid, score_thresh: float = 0.05) -> list:
    """The float decision rule the hardware implements: per band, [h, w, 80] bool,
    ``logit > log(p / (1 − p))`` with ``p = score_thresh`` (``sigmoid(logit) > p``)."""
    t = float(np.log(score_thresh / (1 - score_thresh)))
    return [r[..., :NUM_CLASSES] > t for r in head.raw(grid)]


def handover(head: FloatDetectorHead, feature_scale: float) -> dict:
    """What the float→integer conversion of the detector needs, as plain values.

    ``weight`` [84, C] float32 and ``bias`` [84] float32 (classes then l, t, r, b; the
    centerness row is dropped), ``feature_scale`` (real value of one INT8 feature step),
    ``band_factors`` (float band = integer band × factor × feature scale), ``strides``,
    and the box decoding: distance = ``(stride / 2) · exp(min(v, max_log_dist))`` from the
    location centre ``((j + 0.5)·stride, (i + 0.5)·stride)``; scores ``sigmoid(logit)``.
    """
    return {
        "weight": np.ascontiguousarray(head.weight[:84], np.float32),
        "bias": np.ascontiguousarray(head.bias[:84], np.float32),
        "feature_scale": float(feature_scale),
        "band_factors": BAND_FACTORS,
        "strides": STRIDES,
        "box_unit": "half_stride",
        "max_log_dist": MAX_LOG_DIST,
        "meta": dict(head.meta),
    }


def detections_to_coco(image_id: int, det: Detections, scale: float = 1.0) -> list[dict]:
    """COCO result entries of one image; boxes divided by the letterbox ``scale`` to get
    back to original-image pixels (1.0 for the synthetic world)."""
    out = []
    for box, s, c in zip(det.boxes, det.scores, det.classes, strict=True):
        x0, y0, x1, y1 = (float(v) / scale for v in box)
        out.append({"image_id": int(image_id), "category_id": CATEGORY_IDS[int(c)],
                    "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(s)})
    return out


def coco_map(coco_gt, results: list[dict], image_ids=None) -> dict:
    """pycocotools bbox evaluation. ``coco_gt``: a ``COCO`` index or an annotation dict;
    ``results``: COCO result entries. Returns ``{"map", "map50", "map75"}`` in [0, 1]
    (0 when there are no detections)."""
    gt = coco_from_dict(coco_gt) if isinstance(coco_gt, dict) else coco_gt
    if not results:
        return {"map": 0.0, "map50": 0.0, "map75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        if image_ids is not None:
            ev.params.imgIds = [int(i) for i in image_ids]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {"map": max(float(s[0]), 0.0), "map50": max(float(s[1]), 0.0),
            "map75": max(float(s[2]), 0.0)}
