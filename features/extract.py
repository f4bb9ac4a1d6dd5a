"""Feature extraction: images -> frozen EUPE backbone -> feature cache (needs PyTorch).

For every image: letterbox to the input resolution (640 or 768 px), run
:meth:`~vitgates.golden.backbone.EupeViT.forward_features`, and store

- ``pooled`` [D] float32: the pooled feature the person classifier reads, by default the
  mean of the normalised patch tokens over the whole canvas (``pool="mean"``), or the
  normalised class token (``pool="cls"``);
- ``grid`` [S/16, S/16, D] (float16 by default): the normalised patch tokens as the
  stride-16 grid the detector reads (40×40 at 640 px, 48×48 at 768 px);
- ``image_ids``, ``letterbox_scale`` (canvas px per original px), ``orig_hw``, and, for a
  COCO split, ``person`` (at least one person annotation).

Images come from a folder (ids are the file names' digits, as COCO names its files, or
else the position in sorted order) or from a COCO annotation file plus its image folder.
Images already in the cache are skipped, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import VitgatesError
from .cache import FeatureCache
from .coco import load_coco, person_labels

__all__ = ["IMAGE_SUFFIXES", "ImageItem", "coco_items", "extract", "folder_items"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class ImageItem:
    """One image to extract: its id, its file, and its person label where known."""

    image_id: int
    path: Path
    person: bool | None = None


def folder_items(folder) -> list[ImageItem]:
    """Every image file directly in ``folder``, sorted by name, with ids from the names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VitgatesError(f"{folder}: no such image folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise VitgatesError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    digits = [re.fullmatch(r"\D*(\d+)", p.stem) for p in files]
    if all(digits) and len({int(m.group(1)) for m in digits}) == len(files):
        return [ImageItem(int(m.group(1)), p) for m, p in zip(digits, files, strict=True)]
    return [ImageItem(i, p) for i, p in enumerate(files)]


def coco_items(ann_file, image_dir) -> list[ImageItem]:
    """The images of a COCO split (pycocotools), sorted by id, with person labels."""
    coco = load_coco(ann_file)
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise VitgatesError(f"{image_dir}: no such image folder")
    ids = sorted(coco.imgs)
    labels = person_labels(coco, ids)
    return [ImageItem(int(i), image_dir / coco.imgs[i]["file_name"], bool(lab))
            for i, lab in zip(ids, labels, strict=True)]


def _arrays(dim: int, resolution: int, kinds: Sequence[str], grid_dtype: str,
            labelled: bool) -> dict:
    g = resolution // 16
    arrays = {"image_ids": {"shape": [], "dtype": "int64"},
              "letterbox_scale": {"shape": [], "dtype": "float32"},
              "orig_hw": {"shape": [2], "dtype": "int32"}}
    if "pooled" in kinds:
        arrays["pooled"] = {"shape": [dim], "dtype": "float32"}
    if "grid" in kinds:
        arrays["grid"] = {"shape": [g, g, dim], "dtype": grid_dtype}
    if labelled:
        arrays["person"] = {"shape": [], "dtype": "bool"}
    return arrays


def extract(
    items: Sequence[ImageItem],
    out,
    *,
    model,
    backbone: str,
    resolution: int = 640,
    kinds: Sequence[str] = ("pooled", "grid"),
    pool: str = "mean",
    grid_dtype: str = "float16",
    batch_size: int = 8,
    shard_size: int = 64,
    device: str = "cpu",
    dataset: str = "images",
    progress: bool = True,
) -> FeatureCache:
    """Extract features of ``items`` into the cache at ``out`` (created or resumed).

    ``model``: an :class:`~vitgates.golden.backbone.EupeViT` (e.g. from ``load_eupe``);
    ``backbone``: its name for the manifest (say ``random-init`` for an untrained one).
    Returns the cache. Unreadable images raise :class:`~vitgates.VitgatesError` naming
    the file; everything extracted before it stays cached.
    """
    # torch, directly and through the backbone: optional, and only extraction needs it
    import torch

    from ..golden.backbone import letterbox, preprocess

    if resolution <= 0 or resolution % 64:
        # the grid side (resolution / 16) must be divisible by 4 for the cofiber bands
        raise VitgatesError(f"resolution must be a multiple of 64 (640, 768), got {resolution}")
    if pool not in ("mean", "cls"):
        raise VitgatesError(f"pool must be 'mean' or 'cls', got {pool!r}")
    bad = [k for k in kinds if k not in ("pooled", "grid")]
    if bad or not kinds:
        raise VitgatesError(f"kinds must be 'pooled' and/or 'grid', got {list(kinds)}")
    labelled = bool(items) and all(it.person is not None for it in items)
    cache = FeatureCache.create(
        out, backbone=backbone, resolution=resolution, dataset=dataset, synthetic=False,
        arrays=_arrays(model.embed_dim, resolution, kinds, grid_dtype, labelled),
        extra={"pool": pool, "letterbox": "top-left, longest side to resolution, "
               "padding at the ImageNet mean", "normalisation": "ImageNet mean/std"},
    )
    done = set(cache.image_ids.tolist())
    todo = [it for it in items if it.image_id not in done]
    model = model.to(device).eval()
    buf: dict[str, list] = {k: [] for k in cache.arrays}

    def flush():
        if buf["image_ids"]:
            cache.append_shard({k: np.concatenate(v) for k, v in buf.items()})
            for v in buf.values():
                v.clear()

    cols = (TextColumn("[bold]features"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    with Progress(*cols, disable=not progress, transient=False) as bar:
        task = bar.add_task("extract", total=len(items), completed=len(items) - len(todo),
                            rate="")
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            pix, boxes = [], []
            for it in batch:
                try:
                    with Image.open(it.path) as im:
                        p, lb = letterbox(im, resolution)
                except (OSError, UnidentifiedImageError) as e:
                    flush()
                    raise VitgatesError(f"{it.path}: cannot read image ({e})") from None
                pix.append(p)
                boxes.append(lb)
            x = preprocess(np.stack(pix)).to(device)
            with torch.inference_mode():
                feats = model.forward_features(x)
            patches = feats["x_norm_patchtokens"].float().cpu().numpy()
            n = len(batch)
            buf["image_ids"].append(np.asarray([it.image_id for it in batch], np.int64))
            buf["letterbox_scale"].append(np.asarray([b.scale for b in boxes], np.float32))
            buf["orig_hw"].append(np.asarray([b.orig_hw for b in boxes], np.int32))
            if "pooled" in buf:
                if pool == "mean":
                    pooled = patches.mean(1)
                else:
                    pooled = feats["x_norm_clstoken"].float().cpu().numpy()
                buf["pooled"].append(pooled.astype(np.float32))
            if "grid" in buf:
                g = resolution // 16
                buf["grid"].append(patches.reshape(n, g, g, -1).astype(grid_dtype))
            if "person" in buf:
                buf["person"].append(np.asarray([bool(it.person) for it in batch]))
            if sum(len(a) for a in buf["image_ids"]) >= shard_size:
                flush()
            speed = bar.tasks[0].speed
            bar.update(task, advance=n, rate=f"{speed:.2f} img/s" if speed else "")
        flush()
    return cache
