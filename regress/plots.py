"""PNG plots of the regression reports (matplotlib, no display needed).

- :func:`pr_curves`: precision–recall curves (float and INT8 scores swept over their
  threshold) with the operating points of the levels that decide (the gate-level
  classifier is one point);
- :func:`confusion_png`: a 2×2 confusion table;
- :func:`detection_grid_png`: the feature grid of one image (its per-cell feature norm)
  with ground-truth boxes and the detections of two levels drawn on it.

Every title says when the data are synthetic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["pr_points", "pr_curves", "confusion_png", "detection_grid_png", "map_pr_png"]


def _plt():
    # matplotlib costs most of a second at import: only plotting pays for it
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)
    return path


def pr_points(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of ``scores > t`` for every distinct threshold t (descending)."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, bool)
    order = np.argsort(-s, kind="stable")
    ss, ys = s[order], y[order]
    tp = np.cumsum(ys)
    k = np.arange(1, len(s) + 1)
    last = np.append(ss[:-1] > ss[1:], True)  # a threshold can only cut between scores
    precision = tp[last] / k[last]
    recall = tp[last] / max(int(y.sum()), 1)
    return precision, recall


def pr_curves(path, curves: dict, points: dict, title: str) -> Path:
    """``curves``: label -> (scores, labels); ``points``: label -> (precision, recall)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    styles = ["-", "--", ":", "-."]
    for k, (label, (scores, labels)) in enumerate(curves.items()):
        p, r = pr_points(scores, labels)
        ax.plot(r, p, styles[k % len(styles)], lw=1.5, label=label)
    markers = ["o", "s", "^", "D", "v", "P"]
    for k, (label, (p, r)) in enumerate(points.items()):
        ax.plot([r], [p], markers[k % len(markers)], ms=8 - k, mfc="none", mew=1.8,
                label=f"{label} (P {p:.3f}, R {r:.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def confusion_png(path, tp: int, fp: int, fn: int, tn: int, title: str,
                  positive: str = "person") -> Path:
    """A 2×2 confusion table: rows predicted, columns true."""
    plt = _plt()
    m = np.array([[tp, fp], [fn, tn]])
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v}", ha="center", va="center", fontsize=13,
                color="white" if v > m.max() / 2 else "black")
    ax.set_xticks([0, 1], [f"{positive}", f"no {positive}"])
    ax.set_yticks([0, 1], [f"predicted\n{positive}", f"predicted\nno {positive}"])
    ax.set_xlabel("ground truth")
    ax.set_title(title, fontsize=9)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def detection_grid_png(path, grid_norm: np.ndarray, image_size: int, gt: list,
                       detections: dict, title: str, names: dict | None = None) -> Path:
    """Detections drawn on the feature grid of one image.

    ``grid_norm`` [H, W]: a per-cell value to show (e.g. the feature norm); ``gt``: list of
    ``(box x0 y0 x1 y1, class row)``; ``detections``: label -> list of
    ``(box, class row, score)``, drawn in a colour per label. ``names``: class row -> name.
    """
    plt = _plt()
    from matplotlib.patches import Rectangle  # matplotlib: see _plt

    names = names or {}
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.imshow(grid_norm, cmap="gray", extent=(0, image_size, image_size, 0))
    for box, c in gt:
        x0, y0, x1, y1 = box
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="lime", lw=2))
        ax.text(x0, y0 - 2, names.get(c, str(c)), color="lime", fontsize=7)
    colours = ["red", "deepskyblue", "orange", "magenta"]
    for k, (label, dets) in enumerate(detections.items()):
        col = colours[k % len(colours)]
        ls = "-" if k == 0 else "--"
        for box, c, score in dets:
            x0, y0, x1, y1 = box
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=col, lw=1.2,
                                   ls=ls))
            ax.text(x0, y1 + 8, f"{names.get(c, str(c))} {score:.2f}", color=col, fontsize=6)
        ax.plot([], [], color=col, ls=ls, label=f"{label} ({len(dets)})")
    ax.plot([], [], color="lime", label=f"ground truth ({len(gt)})")
    ax.set_xlim(0, image_size)
    ax.set_ylim(image_size, 0)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(title, fontsize=9)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def map_pr_png(path, curves: dict, title: str) -> Path:
    """COCO precision–recall curves: label -> (recall points [101], precision [101])."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    styles = ["-", "--", ":", "-."]
    for k, (label, (r, p)) in enumerate(curves.items()):
        ax.plot(r, p, styles[k % len(styles)], lw=1.6, label=label)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(title, fontsize=9)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
