"""Training and evaluating the seed-002 detection heads (split-tower and FCOS; PyTorch).

The recipe of seed 002, on cached stride-16 grids (:class:`~.detector_train.GridSource`:
a feature cache with COCO annotations, or the synthetic grid world):

- **ATSS assignment** (:func:`atss_assign`): for each ground-truth box, the ``topk`` (9)
  locations per level nearest its centre are candidates; each candidate's IoU is taken
  with a square pseudo-anchor of side ``anchor_scale · stride`` (8) at the location
  ("stride-scaled pseudo-IoU"); candidates with IoU ≥ mean + std of that box's candidate
  IoUs and centre inside the box are positives; a location claimed by several boxes goes
  to the one with the highest IoU.
- **Loss**: sigmoid focal loss (α 0.25, γ 2) over all locations and classes, normalised by
  the positives; GIoU on the decoded boxes and BCE on the centerness at positives.
- **Horizontal flip** of half the grids (and their boxes), **EMA** of the weights (decay
  0.9998 on COCO), AdamW with cosine schedule and warm-up, gradient clipping, bfloat16
  autocast on CUDA, and a checkpoint every ``save_every`` steps that a later run resumes.
- **PC initialisation** of ``cls_project`` (:meth:`~.split_tower.SplitTowerHead.pc_init`)
  and the **partial calibration fine-tune** (:func:`calibrate_head`): only cls_project,
  cls_bias and logit_scale train, at lr 1e-4, towers and cofiber path frozen.
- **Evaluation** (:func:`evaluate`): score ``sqrt(sigmoid(cls) · sigmoid(ctr))``, score
  threshold 0.05, per-class hard NMS at IoU 0.5 (or linear soft-NMS), top 100 per image,
  pycocotools mAP.
"""

from __future__ import annotations

import copy
import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import VitgatesError
from ..fileio import atomic_write_bytes
from .detector_float import Detections, coco_map, detections_to_coco, per_class_nms
from .detector_train import GridSource, _giou_loss

__all__ = [
    "HeadTrainConfig",
    "atss_assign",
    "calibrate_head",
    "evaluate",
    "head_loss",
    "level_centres",
    "soft_nms",
    "train_detection_head",
]


@dataclass
class HeadTrainConfig:
    """Hyper-parameters (defaults: the seed's; the synthetic runs set fewer steps)."""

    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: float = 0.03
    grad_clip: float = 5.0
    ema_decay: float = 0.9998
    flip: float = 0.5
    topk: int = 9
    anchor_scale: float = 8.0
    seed: int = 0
    save_every: int = 500
    params: str = "all"  # "all", or "calibration" for the partial fine-tune


def level_centres(grid_hw: tuple[int, int], strides) -> list[np.ndarray]:
    """Per level, the pixel centres ``(cx, cy)`` [h·w, 2] float32, row-major."""
    H, W = grid_hw
    out = []
    for s in strides:
        h, w = H * 16 // s, W * 16 // s
        ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        out.append(np.stack([(xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s], 1)
                   .astype(np.float32))
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def atss_assign(boxes: np.ndarray, classes: np.ndarray, centres: list[np.ndarray], strides,
                *, topk: int = 9, anchor_scale: float = 8.0):
    """ATSS targets of one image over all levels concatenated (module docstring).

    Returns ``cls`` [L] int64 (−1 background), ``ltrb`` [L, 4] float32 pixel distances,
    ``ctr`` [L] float32 centerness targets.
    """
    pts = np.concatenate(centres)
    L = len(pts)
    cls = np.full(L, -1, np.int64)
    ltrb = np.zeros((L, 4), np.float32)
    if len(boxes) == 0:
        return cls, ltrb, np.zeros(L, np.float32)
    boxes = np.asarray(boxes, np.float32)
    half = np.concatenate([np.full(len(c), anchor_scale * s / 2, np.float32)
                           for c, s in zip(centres, strides, strict=True)])
    anchors = np.concatenate([pts - half[:, None], pts + half[:, None]], 1)
    ious = _iou(boxes, anchors)  # [G, L]
    gc = (boxes[:, :2] + boxes[:, 2:]) / 2
    dist = np.linalg.norm(pts[None] - gc[:, None], axis=2)  # [G, L]
    cand = np.zeros_like(ious, bool)
    start = 0
    for c in centres:
        k = min(topk, len(c))
        idx = np.argpartition(dist[:, start : start + len(c)], k - 1, axis=1)[:, :k] + start
        np.put_along_axis(cand, idx, True, axis=1)
        start += len(c)
    ci = np.where(cand, ious, np.nan)
    thr = np.nanmean(ci, 1) + np.nanstd(ci, 1)
    inside = ((pts[None, :, 0] > boxes[:, None, 0]) & (pts[None, :, 0] < boxes[:, None, 2])
              & (pts[None, :, 1] > boxes[:, None, 1]) & (pts[None, :, 1] < boxes[:, None, 3]))
    pos = cand & (ious >= thr[:, None]) & inside
    score = np.where(pos, ious, -1.0)
    best = score.argmax(0)
    hit = score.max(0) >= 0
    g = best[hit]
    cls[hit] = np.asarray(classes, np.int64)[g]
    p = pts[hit]
    b = boxes[g]
    ltrb[hit] = np.stack([p[:, 0] - b[:, 0], p[:, 1] - b[:, 1], b[:, 2] - p[:, 0],
                          b[:, 3] - p[:, 1]], 1)
    lt = np.maximum(ltrb, 1e-3)
    ctr = np.sqrt((np.minimum(lt[:, 0], lt[:, 2]) / np.maximum(lt[:, 0], lt[:, 2]))
                  * (np.minimum(lt[:, 1], lt[:, 3]) / np.maximum(lt[:, 1], lt[:, 3])))
    return cls, ltrb, np.where(hit, ctr, 0).astype(np.float32)


def _flatten(out) -> tuple[Tensor, Tensor, Tensor]:
    """Per-level outputs -> ``cls`` [B, L, 80], ``box`` [B, L, 4], ``ctr`` [B, L]."""
    c = torch.cat([o[0].flatten(2).transpose(1, 2) for o in out], 1)
    b = torch.cat([o[1].flatten(2).transpose(1, 2) for o in out], 1)
    t = torch.cat([o[2].flatten(2).transpose(1, 2) for o in out], 1)[..., 0]
    return c, b, t


def head_loss(out, cls: Tensor, ltrb: Tensor, ctr: Tensor, *, alpha: float = 0.25,
              gamma: float = 2.0) -> dict[str, Tensor]:
    """Focal + GIoU + centerness BCE (module docstring) of per-level outputs against the
    concatenated targets ``cls`` [B, L], ``ltrb`` [B, L, 4], ``ctr`` [B, L]."""
    logits, box, ctr_logit = _flatten(out)
    logits, box, ctr_logit = logits.float(), box.float(), ctr_logit.float()
    pos = cls >= 0
    npos = max(int(pos.sum()), 1)
    onehot = torch.zeros_like(logits)
    onehot[pos] = F.one_hot(cls[pos], logits.shape[-1]).to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none")
    pt = p * onehot + (1 - p) * (1 - onehot)
    w = (alpha * onehot + (1 - alpha) * (1 - onehot)) * (1 - pt) ** gamma
    focal = (w * ce).sum() / npos
    if pos.any():
        giou = _giou_loss(box[pos], ltrb[pos]).mean()
        ctr_l = F.binary_cross_entropy_with_logits(ctr_logit[pos], ctr[pos])
    else:
        giou = ctr_l = logits.sum() * 0
    return {"focal": focal, "giou": giou, "ctr": ctr_l, "total": focal + giou + ctr_l}


def _lr_at(step: int, total: int, warmup: float) -> float:
    w = max(1, int(round(warmup * total)))
    if step < w:
        return (step + 1) / w
    return 0.5 * (1 + math.cos(math.pi * min((step - w) / max(1, total - w), 1.0)))


def _flip(grids: np.ndarray, boxes: np.ndarray, width: float):
    g = grids[:, ::-1].copy() if grids.ndim == 3 else grids[:, :, ::-1].copy()
    b = boxes.copy()
    b[:, [0, 2]] = width - boxes[:, [2, 0]]
    return g, b


def train_detection_head(head: nn.Module, source: GridSource, cfg: HeadTrainConfig, *,
                         checkpoint=None, device: str = "cpu", stop_at: int | None = None,
                         progress: bool = False,
                         log: Callable[[str], None] | None = None) -> tuple[nn.Module, dict]:
    """Train ``head`` on ``source``; returns ``(EMA copy of the head, summary)``.

    ``cfg.params == "calibration"`` trains only ``head.calibration_parameters()`` (the
    partial fine-tune). ``checkpoint``: resumed from when it exists, written every
    ``cfg.save_every`` steps and at the end; ``stop_at`` stops (and saves) after that step,
    as an interrupted run would. The summary holds the loss history.
    """
    dev = torch.device(device)
    head = head.to(dev).train()
    if cfg.params == "calibration":
        train_p = list(head.calibration_parameters())
        for p in head.parameters():
            p.requires_grad_(False)
        for p in train_p:
            p.requires_grad_(True)
    elif cfg.params == "all":
        train_p = [p for p in head.parameters()]
        for p in train_p:
            p.requires_grad_(True)
    else:
        raise VitgatesError(f"params must be 'all' or 'calibration', got {cfg.params!r}")
    ema = copy.deepcopy(head).eval().requires_grad_(False)
    opt = torch.optim.AdamW(train_p, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_at(s, cfg.steps, cfg.warmup))
    amp = (torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda"
           else torch.autocast("cpu", enabled=False))
    centres = level_centres(source.grid_hw, head.strides)
    width = float(source.grid_hw[1] * 16)
    step, history = 0, []
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt and ckpt.is_file():
        st = torch.load(str(ckpt), map_location=dev, weights_only=False)
        head.load_state_dict(st["head"])
        ema.load_state_dict(st["ema"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        step, history = st["step"], st["history"]
        if log:
            log(f"resumed from {ckpt} at step {step}")

    def save():
        if ckpt:
            buf = io.BytesIO()
            torch.save({"head": head.state_dict(), "ema": ema.state_dict(),
                        "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step,
                        "history": history, "config": asdict(cfg)}, buf)
            atomic_write_bytes(ckpt, buf.getvalue())

    # the data order is a function of (seed, epoch): a resumed run replays it
    n = len(source.image_ids)
    bs = min(cfg.batch_size, n)
    per_epoch = math.ceil(n / bs)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    t0 = time.time()
    end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
    with Progress(TextColumn("[bold]train head"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[loss]}"), disable=not progress) as bar:
        task = bar.add_task("train", total=cfg.steps, completed=step, loss="")
        while step < end:
            epoch, skip = divmod(step, per_epoch)
            rng = np.random.default_rng([cfg.seed, epoch])
            order = rng.permutation(source.image_ids)
            flips = rng.random(n) < cfg.flip
            for k, (bids, grids) in enumerate(source.batches(order, bs)):
                if k < skip:
                    continue
                if step >= end:
                    break
                targets = []
                gl = []
                for j, i in enumerate(bids):
                    b, c = source.gt(int(i))
                    g = grids[j]
                    if flips[k * bs + j]:
                        g, b = _flip(g, b, width)
                    gl.append(g)
                    targets.append(atss_assign(b, c, centres, head.strides, topk=cfg.topk,
                                               anchor_scale=cfg.anchor_scale))
                x = torch.from_numpy(np.stack(gl).astype(np.float32)).to(dev)
                cls = torch.from_numpy(np.stack([t[0] for t in targets])).to(dev)
                ltrb = torch.from_numpy(np.stack([t[1] for t in targets])).to(dev)
                ctr = torch.from_numpy(np.stack([t[2] for t in targets])).to(dev)
                with amp:
                    out = head(x)
                terms = head_loss(out, cls, ltrb, ctr)
                opt.zero_grad(set_to_none=True)
                terms["total"].backward()
                nn.utils.clip_grad_norm_(train_p, cfg.grad_clip)
                opt.step()
                sched.step()
                step += 1
                # EMA with the usual warm-up of its decay, so short runs are not all init
                d = min(cfg.ema_decay, (1 + step) / (10 + step))
                with torch.no_grad():
                    for e, p in zip(ema.state_dict().values(), head.state_dict().values(),
                                    strict=True):
                        if e.dtype.is_floating_point:
                            e.mul_(d).add_(p.detach(), alpha=1 - d)
                        else:
                            e.copy_(p)
                last = {n_: round(float(v.detach()), 5) for n_, v in terms.items()}
                history.append({"step": step, **last})
                bar.update(task, advance=1, loss=f"loss {last['total']:.3f}")
                if log and (step % 50 == 0 or step == cfg.steps):
                    log(f"step {step}/{cfg.steps} loss {last['total']:.4f}")
                if cfg.save_every and step % cfg.save_every == 0:
                    save()
    save()
    for p in head.parameters():
        p.requires_grad_(True)
    return ema, {"steps": step, "history": history, "seconds": round(time.time() - t0, 1),
                 "dataset": source.label, "synthetic": source.synthetic}


def calibrate_head(head: nn.Module, source: GridSource, steps: int, *, lr: float = 1e-4,
                   batch_size: int = 16, seed: int = 0, device: str = "cpu",
                   checkpoint=None, progress: bool = False) -> tuple[nn.Module, dict]:
    """The partial calibration fine-tune: only the calibration parameters train."""
    cfg = HeadTrainConfig(steps=steps, lr=lr, batch_size=batch_size, seed=seed,
                          params="calibration", warmup=0.0)
    return train_detection_head(head, source, cfg, device=device, checkpoint=checkpoint,
                                progress=progress)


def soft_nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.5,
             score_thresh: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Linear soft-NMS: each kept box decays the scores of the others by ``1 − IoU`` where
    the IoU exceeds ``iou``. Returns ``(kept indices, their new scores)``."""
    s = np.asarray(scores, np.float64).copy()
    idx = np.arange(len(s))
    keep, kept_s = [], []
    while idx.size:
        j = int(np.argmax(s[idx]))
        i = idx[j]
        if s[i] < score_thresh:
            break
        keep.append(i)
        kept_s.append(s[i])
        idx = np.delete(idx, j)
        if idx.size:
            o = _iou(boxes[i : i + 1], boxes[idx])[0]
            s[idx] = np.where(o > iou, s[idx] * (1 - o), s[idx])
    return np.asarray(keep, np.int64), np.asarray(kept_s, np.float32)


def _detect(out_one, centres, score_thresh, nms_iou, max_det, pre_nms, soft) -> Detections:
    cls, box, ctr = out_one  # [L, 80], [L, 4], [L]
    sc = np.sqrt(1 / (1 + np.exp(-cls)) * (1 / (1 + np.exp(-ctr)))[:, None])
    loc, c = np.nonzero(sc > score_thresh)
    s = sc[loc, c]
    if s.size > pre_nms:
        top = np.argsort(-s, kind="stable")[:pre_nms]
        loc, c, s = loc[top], c[top], s[top]
    p = centres[loc]
    d = box[loc]
    boxes = np.stack([p[:, 0] - d[:, 0], p[:, 1] - d[:, 1], p[:, 0] + d[:, 2],
                      p[:, 1] + d[:, 3]], 1).astype(np.float32)
    lvl = np.zeros(len(s), np.int64)
    if not soft:
        return per_class_nms(boxes, s.astype(np.float32), c, lvl, nms_iou, max_det)
    kb, ks, kc = [], [], []
    for k in np.unique(c):
        m = np.flatnonzero(c == k)
        keep, news = soft_nms(boxes[m], s[m], nms_iou, score_thresh)
        kb.append(boxes[m][keep])
        ks.append(news)
        kc.append(np.full(len(keep), k))
    if not kb:
        return per_class_nms(boxes, s.astype(np.float32), c, lvl, nms_iou, max_det)
    b, s2, c2 = np.concatenate(kb), np.concatenate(ks), np.concatenate(kc)
    o = np.argsort(-s2, kind="stable")[:max_det]
    return Detections(b[o], s2[o], c2[o].astype(np.int64), np.zeros(len(o), np.int64))


@torch.no_grad()
def evaluate(head: nn.Module, source: GridSource, image_ids=None, *, soft: bool = False,
             score_thresh: float = 0.05, nms_iou: float = 0.5, max_det: int = 100,
             pre_nms: int = 1000, batch_size: int = 8, device: str = "cpu") -> dict:
    """pycocotools mAP of ``head`` (module docstring): ``{"map", "map50", "map75",
    "n_images", "nms", "dataset"}``."""
    dev = torch.device(device)
    head = head.to(dev).eval()
    ids = np.asarray(source.image_ids if image_ids is None else image_ids, np.int64)
    centres = np.concatenate(level_centres(source.grid_hw, head.strides))
    results = []
    for bids, grids in source.batches(ids, batch_size):
        out = head(torch.from_numpy(np.asarray(grids, np.float32)).to(dev))
        cls, box, ctr = (t.float().cpu().numpy() for t in _flatten(out))
        for j, i in enumerate(bids):
            det = _detect((cls[j], box[j], ctr[j]), centres, score_thresh, nms_iou, max_det,
                          pre_nms, soft)
            results += detections_to_coco(int(i), det, source.scale(int(i)))
    m = coco_map(source.coco, results, image_ids=ids)
    return {**{k: round(v, 4) for k, v in m.items()}, "n_images": int(len(ids)),
            "nms": "soft (linear)" if soft else "hard", "dataset": source.label}
