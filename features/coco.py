"""COCO through pycocotools: the 80 categories, quiet loading, labels and letterboxed boxes.

numpy + pycocotools only (no PyTorch). Class index ``k`` (0..79) is the row of the
detector's weight matrix; ``COCO_CATEGORIES[k]`` is its ``(category_id, name)``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from ..errors import VitgatesError

__all__ = [
    "CATEGORY_IDS",
    "COCO_CATEGORIES",
    "NUM_CLASSES",
    "PERSON_CATEGORY_ID",
    "category_index",
    "categories_json",
    "coco_from_dict",
    "gt_boxes",
    "load_coco",
    "person_labels",
]

COCO_CATEGORIES: tuple[tuple[int, str], ...] = (
    (1, "person"), (2, "bicycle"), (3, "car"), (4, "motorcycle"), (5, "airplane"),
    (6, "bus"), (7, "train"), (8, "truck"), (9, "boat"), (10, "traffic light"),
    (11, "fire hydrant"), (13, "stop sign"), (14, "parking meter"), (15, "bench"),
    (16, "bird"), (17, "cat"), (18, "dog"), (19, "horse"), (20, "sheep"), (21, "cow"),
    (22, "elephant"), (23, "bear"), (24, "zebra"), (25, "giraffe"), (27, "backpack"),
    (28, "umbrella"), (31, "handbag"), (32, "tie"), (33, "suitcase"), (34, "frisbee"),
    (35, "skis"), (36, "snowboard"), (37, "sports ball"), (38, "kite"),
    (39, "baseball bat"), (40, "baseball glove"), (41, "skateboard"), (42, "surfboard"),
    (43, "tennis racket"), (44, "bottle"), (46, "wine glass"), (47, "cup"), (48, "fork"),
    (49, "knife"), (50, "spoon"), (51, "bowl"), (52, "banana"), (53, "apple"),
    (54, "sandwich"), (55, "orange"), (56, "broccoli"), (57, "carrot"), (58, "hot dog"),
    (59, "pizza"), (60, "donut"), (61, "cake"), (62, "chair"), (63, "couch"),
    (64, "potted plant"), (65, "bed"), (67, "dining table"), (70, "toilet"), (72, "tv"),
    (73, "laptop"), (74, "mouse"), (75, "remote"), (76, "keyboard"), (77, "cell phone"),
    (78, "microwave"), (79, "oven"), (80, "toaster"), (81, "sink"), (82, "refrigerator"),
    (84, "book"), (85, "clock"), (86, "vase"), (87, "scissors"), (88, "teddy bear"),
    (89, "hair drier"), (90, "toothbrush"),
)
NUM_CLASSES = len(COCO_CATEGORIES)
CATEGORY_IDS = tuple(c for c, _ in COCO_CATEGORIES)
PERSON_CATEGORY_ID = 1
_INDEX = {c: k for k, c in enumerate(CATEGORY_IDS)}


def category_index(category_id: int) -> int:
    """The class row (0..79) of a COCO category id."""
    return _INDEX[int(category_id)]


def categories_json() -> list[dict]:
    """The ``categories`` list of a COCO annotation file (all 80 classes)."""
    return [{"id": c, "name": n, "supercategory": "none"} for c, n in COCO_CATEGORIES]


def _quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def load_coco(ann_file):
    """A ``pycocotools.coco.COCO`` index of an annotation file; one-line errors."""
    from pycocotools.coco import COCO  # ~60 ms at import; most commands never read COCO

    path = Path(ann_file)
    if not path.is_file():
        raise VitgatesError(f"{path}: no such annotation file")
    try:
        return _quiet(COCO, str(path))
    except Exception as e:
        raise VitgatesError(f"{path}: not a COCO annotation file ({type(e).__name__})") from None


def coco_from_dict(dataset: dict):
    """A ``COCO`` index built from an in-memory annotation dict (images, annotations,
    categories), without touching the disk."""
    from pycocotools.coco import COCO  # ~60 ms at import; most commands never read COCO

    coco = COCO()
    coco.dataset = dataset
    _quiet(coco.createIndex)
    return coco


def person_labels(coco, image_ids) -> np.ndarray:
    """[n] bool: whether each image has at least one person annotation (crowds count)."""
    out = np.zeros(len(image_ids), bool)
    for i, img in enumerate(image_ids):
        anns = coco.imgToAnns.get(int(img), [])
        out[i] = any(a["category_id"] == PERSON_CATEGORY_ID for a in anns)
    return out


def gt_boxes(coco, image_id: int, scale: float = 1.0, *, include_crowd: bool = False):
    """Ground-truth boxes of one image on the letterboxed canvas.

    Returns ``(boxes, classes)``: [n, 4] float32 ``x0, y0, x1, y1`` in canvas pixels (the
    COCO box multiplied by the letterbox ``scale``) and [n] int64 class rows (0..79).
    Crowd annotations are left out unless ``include_crowd``.
    """
    boxes, classes = [], []
    for a in coco.imgToAnns.get(int(image_id), []):
        if a.get("iscrowd", 0) and not include_crowd:
            continue
        x, y, w, h = a["bbox"]
        if w <= 0 or h <= 0 or a["category_id"] not in _INDEX:
            continue
        boxes.append([x * scale, y * scale, (x + w) * scale, (y + h) * scale])
        classes.append(_INDEX[a["category_id"]])
    return (np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(classes, np.int64))
