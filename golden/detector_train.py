"""Training the float cofiber linear detection head (seed 001, ``linear_70k``; PyTorch).

The head is one ``Linear(768, 85)`` shared by the three cofiber bands of the frozen stride-16
grid (rows: 80 class logits, 4 box-regression values, 1 centerness logit; see
:mod:`.detector_float`). Training follows the seed: an FCOS-style loss summed over the three
bands — sigmoid focal loss on the classes (α 0.25, γ 2, normalised by the number of positive
locations), GIoU on the decoded boxes and BCE on the centerness at positive locations —
AdamW (lr 1e-3, weight decay 1e-4), a cosine schedule with 3 % linear warm-up, gradient
clipping at 5.0.

**Assignment.** A ground-truth box goes to one band by its longer side on the letterboxed
canvas: below 24 px to band 0 (stride 16), below 48 px to band 1 (stride 32), else band 2
(stride 64); these are the geometric midpoints of 16, 32, 64 and 128 px, the sizes at which
a constant patch of features lands in each band. Its positive locations are the band's
locations whose centres lie inside the box (the one containing the box centre if none
does); a location inside several boxes takes the smallest. Targets are the distances to the
box sides and the centerness ``sqrt(min(l,r)/max(l,r) · min(t,b)/max(t,b))``.

**Centerness.** The centerness row is trained (as in the seed) but is not part of the
exported integer model: with a linear head it shares no parameter with the other rows, so
dropping it changes nothing else, and the hardware decides on class logits alone.

Data: the synthetic grid world (:func:`vitgates.features.synthetic.grid_dataset`), or a
feature cache with ``grid`` arrays plus the COCO annotation file of its images.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from torch import Tensor

from ..features.coco import category_index, gt_boxes, load_coco
from .detector_float import (
    BOX_ROWS,
    CTR_ROW,
    MAX_LOG_DIST,
    NUM_CLASSES,
    STRIDES,
    FloatDetectorHead,
    band_locations,
    coco_map,
    detections_to_coco,
)

__all__ = [
    "SIZE_BOUNDS",
    "GridSource",
    "TrainConfig",
    "assign_targets",
    "bands_torch",
    "head_forward",
    "cache_source",
    "detection_loss",
    "evaluate_head",
    "init_head",
    "synthetic_source",
    "train_head",
]

SIZE_BOUNDS = (24.0, 48.0)
PRIOR = 0.01  # initial class probability (FCOS): bias = -log((1 - p) / p)


@dataclass
class TrainConfig:
    """Hyper-parameters; defaults are the seed's (batch 64 and 8 epochs on COCO)."""

    epochs: float = 8.0
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: float = 0.03
    grad_clip: float = 5.0
    alpha: float = 0.25
    gamma: float = 2.0
    seed: int = 0
    steps: int | None = None  # overrides epochs when set


@dataclass
class GridSource:
    """Where training/evaluation grids come from.

    ``image_ids`` [n]; ``batches(ids)`` yields ``(ids, grids [b, H, W, C] float32)``
    for the requested ids in the given order; ``gt(image_id)`` -> ``(boxes [m, 4] xyxy
    canvas px, classes [m])``; ``coco`` the COCO ground truth (index or dict);
    ``scale(image_id)`` the letterbox scale (1.0 for synthetic); ``label`` how reports
    name the data (says ``synthetic`` where it is).
    """

    image_ids: np.ndarray
    batches: Callable[[np.ndarray, int], Iterator[tuple[np.ndarray, np.ndarray]]]
    gt: Callable[[int], tuple[np.ndarray, np.ndarray]]
    coco: object
    scale: Callable[[int], float]
    grid_hw: tuple[int, int]
    label: str
    synthetic: bool


def synthetic_source(ds, image_ids=None, *, in_memory: bool = True) -> GridSource:
    """A :class:`GridSource` over a :class:`~vitgates.features.synthetic.GridDataset`."""
    ids = np.asarray(ds.image_ids if image_ids is None else image_ids, np.int64)
    memo: dict[int, np.ndarray] = {}

    def grid(i):
        if not in_memory:
            return ds.grid(i)
        if i not in memo:
            memo[i] = ds.grid(i)
        return memo[i]

    def batches(order, bs):
        for s in range(0, len(order), bs):
            chunk = order[s : s + bs]
            yield chunk, np.stack([grid(int(i)) for i in chunk])

    anns: dict[int, list] = {}
    for a in ds.coco["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)

    def gt(i):
        rows = anns.get(int(i), [])
        b = np.asarray([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in rows)],
                       np.float32).reshape(-1, 4)
        c = np.asarray([category_index(a["category_id"]) for a in rows], np.int64)
        return b, c

    return GridSource(ids, batches, gt, ds.coco, lambda i: 1.0, tuple(ds.grid_hw), ds.label,
                      True)


def cache_source(cache, ann_file, image_ids=None) -> GridSource:
    """A :class:`GridSource` over a feature cache with ``grid`` arrays and the COCO
    annotation file of its images. Grids stream shard by shard; ``batches`` follows the
    cache order within each requested id set (shards in the order of first appearance)."""
    coco = load_coco(ann_file)
    all_ids = cache.image_ids
    ids = np.asarray(all_ids if image_ids is None else image_ids, np.int64)
    scales = dict(zip(all_ids.tolist(), cache.load("letterbox_scale").tolist(), strict=True))
    where = {}
    for si, s in enumerate(cache.shards):
        for j, i in enumerate(s["image_ids"]):
            where[i] = (si, j)
    H, W = cache.arrays["grid"]["shape"][:2]

    def batches(order, bs):
        # group the requested ids by shard so each shard is read once per pass
        by_shard: dict[int, list] = {}
        for i in order:
            by_shard.setdefault(where[int(i)][0], []).append(int(i))
        pending_ids, pending = [], []
        for si, wanted in by_shard.items():
            g = cache.read_shard(si, ["grid"])["grid"]
            for i in wanted:
                pending_ids.append(i)
                pending.append(g[where[i][1]].astype(np.float32))
                if len(pending) == bs:
                    yield np.asarray(pending_ids), np.stack(pending)
                    pending_ids, pending = [], []
        if pending:
            yield np.asarray(pending_ids), np.stack(pending)

    def gt(i):
        return gt_boxes(coco, int(i), scales[int(i)])

    return GridSource(ids, batches, gt, coco, lambda i: scales[int(i)], (H, W),
                      f"{cache.manifest['dataset']} ({cache.manifest['backbone']}, "
                      f"{cache.manifest['resolution']} px)", cache.manifest["synthetic"])


# -- targets -----------------------------------------------------------------------------------


def assign_targets(boxes: np.ndarray, classes: np.ndarray, grid_hw: tuple[int, int],
                   size_bounds=SIZE_BOUNDS):
    """Per-location targets of one image, the three bands concatenated (band 0 first).

    Returns ``cls`` [L] int64 (class row, −1 background), ``ltrb`` [L, 4] float32 pixel
    distances and ``ctr`` [L] float32 centerness, L = H·W + H·W/4 + H·W/16.
    """
    locs = band_locations(grid_hw)
    sizes = [len(c) for c in locs]
    L = sum(sizes)
    cls = np.full(L, -1, np.int64)
    ltrb = np.zeros((L, 4), np.float32)
    best_area = np.full(L, np.inf)
    offsets = np.cumsum([0, *sizes])
    for box, c in zip(boxes, classes, strict=True):
        x0, y0, x1, y1 = (float(v) for v in box)
        side = max(x1 - x0, y1 - y0)
        k = 0 if side < size_bounds[0] else 1 if side < size_bounds[1] else 2
        p = locs[k]
        inside = (p[:, 0] > x0) & (p[:, 0] < x1) & (p[:, 1] > y0) & (p[:, 1] < y1)
        idx = np.flatnonzero(inside)
        if idx.size == 0:  # tiny box: the location whose cell holds its centre
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            idx = np.asarray([np.argmin((p[:, 0] - cx) ** 2 + (p[:, 1] - cy) ** 2)])
        area = (x1 - x0) * (y1 - y0)
        g = offsets[k] + idx
        better = area < best_area[g]
        g, idx = g[better], idx[better]
        best_area[g] = area
        cls[g] = int(c)
        q = p[idx]
        ltrb[g] = np.stack([q[:, 0] - x0, q[:, 1] - y0, x1 - q[:, 0], y1 - q[:, 1]], 1)
    lt = np.maximum(ltrb, 1e-3)
    ctr = np.sqrt((np.minimum(lt[:, 0], lt[:, 2]) / np.maximum(lt[:, 0], lt[:, 2]))
                  * (np.minimum(lt[:, 1], lt[:, 3]) / np.maximum(lt[:, 1], lt[:, 3])))
    ctr = np.where(cls >= 0, ctr, 0).astype(np.float32)
    return cls, np.maximum(ltrb, 0).astype(np.float32), ctr


# -- model pieces ------------------------------------------------------------------------------


def _pool_t(x: Tensor) -> Tensor:
    B, H, W, C = x.shape
    return x.reshape(B, H // 2, 2, W // 2, 2, C).mean((2, 4))


def _minus_up_t(x: Tensor, coarse: Tensor) -> Tensor:
    """``x − up(coarse)`` for [B, H, W, C] and [B, H/2, W/2, C], channels last."""
    B, H, W, C = x.shape
    d = x.reshape(B, H // 2, 2, W // 2, 2, C) - coarse[:, :, None, :, None, :]
    return d.reshape(B, H, W, C)


def bands_torch(x: Tensor) -> Tensor:
    """Float cofiber bands of [B, H, W, C] grids, flattened and concatenated: [B, L, C]
    with L = H·W + H·W/4 + H·W/16 (band 0, then 1, then 2; row-major in each)."""
    B, H, W, C = x.shape
    p1 = _pool_t(x)
    p2 = _pool_t(p1)
    parts = (_minus_up_t(x, p1), _minus_up_t(p1, p2), p2)
    return torch.cat([b.reshape(B, -1, C) for b in parts], 1)


def head_forward(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Head outputs on the three bands of grids ``x`` [B, H, W, C]: [B, L, R].

    The bands are linear in ``x``, so the weight is applied first and the band operations
    run on R channels instead of C: the same function as ``bands_torch(x) @ weight.T +
    bias`` up to float rounding, at about a third of the cost.
    """
    return bands_torch(x @ weight.T) + bias


def init_head(dim: int = 768, *, centerness: bool = True, seed: int = 0) -> FloatDetectorHead:
    """An untrained head: weights N(0, 0.01²), class bias at prior 0.01, other bias 0."""
    rng = np.random.default_rng(seed)
    R = NUM_CLASSES + 4 + int(centerness)
    w = rng.normal(0.0, 0.01, (R, dim)).astype(np.float32)
    b = np.zeros(R, np.float32)
    b[:NUM_CLASSES] = -math.log((1 - PRIOR) / PRIOR)
    return FloatDetectorHead(w, b, {"trained": False})


def _giou_loss(pred: Tensor, target: Tensor) -> Tensor:
    """1 − GIoU of ltrb distance boxes sharing their anchor point: [n] each."""
    pl, pt, pr, pb = pred.unbind(-1)
    tl, tt, tr, tb = target.unbind(-1)
    pa = (pl + pr) * (pt + pb)
    ta = (tl + tr) * (tt + tb)
    iw = torch.minimum(pl, tl) + torch.minimum(pr, tr)
    ih = torch.minimum(pt, tt) + torch.minimum(pb, tb)
    inter = iw.clamp(min=0) * ih.clamp(min=0)
    union = pa + ta - inter
    iou = inter / union.clamp(min=1e-6)
    enc = (torch.maximum(pl, tl) + torch.maximum(pr, tr)) * (torch.maximum(pt, tt)
                                                              + torch.maximum(pb, tb))
    return 1 - (iou - (enc - union) / enc.clamp(min=1e-6))


def detection_loss(out: Tensor, cls: Tensor, ltrb: Tensor, ctr: Tensor, strides: Tensor,
                   *, alpha: float = 0.25, gamma: float = 2.0) -> dict[str, Tensor]:
    """The FCOS-style loss of head outputs ``out`` [B, L, R] against targets ``cls`` [B, L]
    (−1 background), ``ltrb`` [B, L, 4] px, ``ctr`` [B, L]; ``strides`` [L]. Returns the
    terms ``focal``, ``giou``, ``ctr`` and their sum ``total``."""
    logits = out[..., :NUM_CLASSES]
    pos = cls >= 0
    npos = max(int(pos.sum()), 1)
    onehot = torch.zeros_like(logits)
    onehot[pos] = F.one_hot(cls[pos], NUM_CLASSES).to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none")
    pt = p * onehot + (1 - p) * (1 - onehot)
    w = (alpha * onehot + (1 - alpha) * (1 - onehot)) * (1 - pt) ** gamma
    focal = (w * ce).sum() / npos
    zero = out.sum() * 0
    if pos.any():
        s = strides.expand_as(cls)[pos].unsqueeze(-1)
        reg = out[..., BOX_ROWS][pos].clamp(max=MAX_LOG_DIST)
        giou = _giou_loss(0.5 * s * torch.exp(reg), ltrb[pos]).mean()
        if out.shape[-1] > CTR_ROW:
            ctr_l = F.binary_cross_entropy_with_logits(out[..., CTR_ROW][pos], ctr[pos])
        else:
            ctr_l = zero
    else:
        giou = ctr_l = zero
    return {"focal": focal, "giou": giou, "ctr": ctr_l, "total": focal + giou + ctr_l}


def _lr_at(step: int, total: int, warmup: float) -> float:
    w = max(1, int(round(warmup * total)))
    if step < w:
        return (step + 1) / w
    t = (step - w) / max(1, total - w)
    return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def train_head(source: GridSource, cfg: TrainConfig | None = None, *,
               head: FloatDetectorHead | None = None, progress: bool = False,
               log: Callable[[str], None] | None = None) -> FloatDetectorHead:
    """Train the float head on ``source`` and return it (float32 numpy weights).

    Steps: ``cfg.steps`` if set, else ``ceil(epochs · n / batch_size)``. Deterministic for a
    given ``cfg.seed`` on one machine (single-threaded reductions aside).
    """
    cfg = cfg or TrainConfig()
    head = head or init_head(seed=cfg.seed, centerness=True)
    ids = source.image_ids
    n = len(ids)
    bs = min(cfg.batch_size, n)
    steps = cfg.steps or max(1, math.ceil(cfg.epochs * n / bs))
    lin = torch.nn.Linear(head.weight.shape[1], head.weight.shape[0])
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(head.weight))
        lin.bias.copy_(torch.from_numpy(head.bias))
    opt = torch.optim.AdamW(lin.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_at(s, steps, cfg.warmup))
    strides = torch.from_numpy(np.concatenate(
        [np.full(len(c), s, np.float32) for c, s in zip(band_locations(source.grid_hw),
                                                         STRIDES, strict=True)]))
    targets: dict[int, tuple] = {}

    def target(i):
        if i not in targets:
            targets[i] = assign_targets(*source.gt(i), source.grid_hw)
        return targets[i]

    rng = np.random.default_rng(cfg.seed)
    step, t0, last = 0, time.time(), {}

    with Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[loss]}"), disable=not progress) as bar:
        task = bar.add_task("train", total=steps, loss="")
        while step < steps:
            for bids, grids in source.batches(rng.permutation(ids), bs):
                if step >= steps:
                    break
                t = [target(int(i)) for i in bids]
                cls = torch.from_numpy(np.stack([a for a, _, _ in t]))
                ltrb = torch.from_numpy(np.stack([b for _, b, _ in t]))
                ctr = torch.from_numpy(np.stack([c for _, _, c in t]))
                out = head_forward(torch.from_numpy(grids), lin.weight, lin.bias)
                losses = detection_loss(out, cls, ltrb, ctr, strides,
                                        alpha=cfg.alpha, gamma=cfg.gamma)
                opt.zero_grad(set_to_none=True)
                losses["total"].backward()
                torch.nn.utils.clip_grad_norm_(lin.parameters(), cfg.grad_clip)
                opt.step()
                sched.step()
                step += 1
                last = {k: round(float(v.detach()), 4) for k, v in losses.items()}
                bar.update(task, advance=1, loss=f"loss {last['total']:.3f}")
                if log and (step % 50 == 0 or step == steps):
                    log(f"step {step}/{steps} loss {last['total']:.4f} (focal "
                        f"{last['focal']:.4f} giou {last['giou']:.4f} ctr {last['ctr']:.4f})")
    meta = {"trained": True, "dataset": source.label, "synthetic": source.synthetic,
            "steps": steps, "batch_size": bs, "images": n, "final_loss": last,
            "seconds": round(time.time() - t0, 1), "config": cfg.__dict__}
    return FloatDetectorHead(lin.weight.detach().numpy().copy(),
                             lin.bias.detach().numpy().copy(), meta)


def evaluate_head(head: FloatDetectorHead, source: GridSource, image_ids=None, *,
                  score_thresh: float = 0.05, batch_size: int = 8) -> dict:
    """pycocotools mAP of the float head on ``source`` (all its images, or ``image_ids``).

    Returns ``{"map", "map50", "map75", "n_images", "dataset"}``.
    """
    ids = np.asarray(source.image_ids if image_ids is None else image_ids, np.int64)
    H, W = source.grid_hw
    sizes = [(H >> k) * (W >> k) for k in range(3)]
    w, b = torch.from_numpy(head.weight), torch.from_numpy(head.bias)
    results = []
    # the head runs in torch here: numpy's BLAS threads and torch's would fight for the cores
    for bids, grids in source.batches(ids, batch_size):
        with torch.no_grad():
            out = head_forward(torch.from_numpy(grids), w, b).numpy()
        for i, o in zip(bids, out, strict=True):
            parts = np.split(o, np.cumsum(sizes)[:-1])
            raw = [p.reshape(H >> k, W >> k, -1) for k, p in enumerate(parts)]
            det = head.detect_raw(raw, score_thresh=score_thresh)
            results += detections_to_coco(int(i), det, source.scale(int(i)))
    m = coco_map(source.coco, results, image_ids=ids)
    return {**{k: round(v, 4) for k, v in m.items()}, "n_images": int(len(ids)),
            "dataset": source.label}
