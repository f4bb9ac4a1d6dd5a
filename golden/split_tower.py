"""The split-tower detection head of seed 002 (PyTorch), and the class-name embeddings it
classifies against.

Input: the frozen backbone's stride-16 grid [B, H, W, C] (channels last, H and W divisible
by 8). Levels, strides 8 to 128:

- **cofiber bands** (zero parameters): ``x0 = x``; ``band_k = x_k − up(pool(x_k))``,
  ``x_{k+1} = pool(x_k)`` for k = 0, 1, 2, and ``band_3 = x_3`` (2×2 average pooling,
  bilinear upsampling); strides 16, 32, 64, 128. The bands sum back to ``x`` exactly when
  each is upsampled to the grid (a telescoping sum);
- the bands enter the towers through one ``Conv1x1(C, hidden)`` shared by the four band
  levels;
- a stride-8 level from one ``ConvTranspose2d(hidden, hidden, 2, stride 2)`` of the
  projected stride-16 band; then top-down lateral connections add each coarser level,
  upsampled, to the next finer one (parameter-free).

Each level then runs through two towers with separate weights (shared across levels):
``n_conv`` 3×3 conv + GroupNorm + ReLU blocks and ``n_dw`` depthwise residual blocks
(depthwise 3×3, GroupNorm, pointwise 1×1, ReLU, plus the input). The classification tower
ends in ``cls_project = Linear(hidden, text_dim, bias=False)``; the class logit is
``exp(logit_scale) · cos(cls_project(t), e_c) + cls_bias[c]`` against the L2-normalised
class-name embeddings ``e`` [80, text_dim] (a buffer, not learned). The regression tower
ends in a 3×3 conv to ``(l, t, r, b)`` decoded as ``stride · exp(scale_level · v)`` (a
learned scale per level) and a 3×3 centerness conv.

Class-name embeddings (:func:`class_embeddings`): a file the user gives (``.npy``,
``.pt`` or ``.safetensors``, [80, D] in COCO class order, e.g. CLIP ViT-L/14 text
embeddings of the 80 names averaged over prompts), or the deterministic stand-in: for each
class a unit vector in R^768 drawn from a generator seeded with the SHA-256 of its name.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import VitgatesError

__all__ = [
    "LEVEL_STRIDES",
    "SEED_PARAMS",
    "DWResidual",
    "SplitTowerHead",
    "class_embeddings",
    "cofiber_levels",
    "stand_in_embeddings",
]

LEVEL_STRIDES = (8, 16, 32, 64, 128)
SEED_PARAMS = 2_975_067
PRIOR = 0.01


def stand_in_embeddings(dim: int = 768) -> np.ndarray:
    """Deterministic stand-in class embeddings [80, dim] float32 (unit rows)."""
    from ..features.coco import COCO_CATEGORIES

    rows = []
    for _, name in COCO_CATEGORIES:
        seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(dim)
        rows.append(v / np.linalg.norm(v))
    return np.asarray(rows, np.float32)


def class_embeddings(path=None, dim: int = 768) -> tuple[np.ndarray, str]:
    """``(embeddings [80, D] float32, source)``: from ``path``, or the stand-in."""
    if path is None:
        return stand_in_embeddings(dim), f"stand-in (SHA-256 seeded unit vectors, {dim}-d)"
    path = Path(path)
    if not path.is_file():
        raise VitgatesError(f"{path}: no such class-embedding file")
    try:
        if path.suffix == ".npy":
            e = np.load(path)
        elif path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            d = load_file(str(path))
            e = d.get("embeddings", next(iter(d.values())))
        else:
            e = torch.load(str(path), map_location="cpu", weights_only=True)
            e = e.numpy() if isinstance(e, Tensor) else np.asarray(e)
    except Exception as ex:
        raise VitgatesError(f"{path}: cannot read class embeddings ({type(ex).__name__})") \
            from None
    e = np.asarray(e, np.float32)
    if e.ndim != 2 or e.shape[0] != 80 or not np.isfinite(e).all():
        raise VitgatesError(f"{path}: class embeddings must be finite [80, D], got "
                            f"{list(e.shape)}")
    return e, str(path)


def _pool(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 2)


def _up(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def cofiber_levels(x: Tensor, n: int = 4) -> list[Tensor]:
    """The ``n`` float cofiber bands of [B, C, H, W] (module docstring), finest first."""
    bands = []
    for _ in range(n - 1):
        p = _pool(x)
        bands.append(x - _up(p, x))
        x = p
    return [*bands, x]


def _gn(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, ch // 8) if ch >= 16 else 1, ch)


class ConvGN(nn.Sequential):
    def __init__(self, ch: int):
        super().__init__(nn.Conv2d(ch, ch, 3, padding=1), _gn(ch), nn.ReLU(inplace=True))


class DWResidual(nn.Module):
    """``x + relu(pw(gn(dw(x))))``: depthwise 3×3, GroupNorm, pointwise 1×1."""

    def __init__(self, ch: int):
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 3, padding=1, groups=ch)
        self.gn = _gn(ch)
        self.pw = nn.Conv2d(ch, ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + F.relu(self.pw(self.gn(self.dw(x))))


def _tower(ch: int, n_conv: int, n_dw: int) -> nn.Sequential:
    return nn.Sequential(*[ConvGN(ch) for _ in range(n_conv)],
                         *[DWResidual(ch) for _ in range(n_dw)])


class SplitTowerHead(nn.Module):
    """The split-tower head (module docstring). :meth:`forward` takes grids [B, H, W, C]
    and returns per level ``(cls [B, 80, h, w], box [B, 4, h, w] pixel distances,
    ctr [B, 1, h, w])``."""

    strides = LEVEL_STRIDES

    def __init__(self, text_embed, in_dim: int = 768, hidden: int = 160, n_conv: int = 5,
                 n_dw: int = 4):
        super().__init__()
        e = torch.as_tensor(np.asarray(text_embed, np.float32))
        self.config = {"in_dim": in_dim, "hidden": hidden, "n_conv": n_conv, "n_dw": n_dw,
                       "text_dim": int(e.shape[1])}
        self.register_buffer("text_embed", F.normalize(e, dim=1))
        self.up8 = nn.ConvTranspose2d(hidden, hidden, 2, stride=2)
        self.lateral = nn.Conv2d(in_dim, hidden, 1)
        self.cls_tower = _tower(hidden, n_conv, n_dw)
        self.reg_tower = _tower(hidden, n_conv, n_dw)
        self.cls_project = nn.Linear(hidden, e.shape[1], bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.cls_bias = nn.Parameter(torch.full((e.shape[0],), -math.log((1 - PRIOR) / PRIOR)))
        self.box = nn.Conv2d(hidden, 4, 3, padding=1)
        self.ctr = nn.Conv2d(hidden, 1, 3, padding=1)
        self.scales = nn.Parameter(torch.ones(len(LEVEL_STRIDES)))
        nn.init.normal_(self.box.weight, std=0.01)
        nn.init.zeros_(self.box.bias)

    def calibration_parameters(self) -> list[nn.Parameter]:
        """What the partial calibration fine-tune updates: cls_project, cls_bias,
        logit_scale."""
        return [self.cls_project.weight, self.cls_bias, self.logit_scale]

    def pc_init(self) -> None:
        """Initialise ``cls_project`` from the SVD of the class embeddings: its columns are
        the leading right singular vectors (the principal directions of the text space);
        columns beyond the embeddings' rank keep their random initialisation."""
        with torch.no_grad():
            _, _, vt = torch.linalg.svd(self.text_embed, full_matrices=False)
            k = min(vt.shape[0], self.cls_project.weight.shape[1])
            self.cls_project.weight[:, :k] = vt[:k].T

    def levels(self, grid: Tensor) -> list[Tensor]:
        x = grid.permute(0, 3, 1, 2)
        feats = [self.lateral(b) for b in cofiber_levels(x, 4)]
        feats.insert(0, self.up8(feats[0]))
        for k in range(len(feats) - 2, -1, -1):  # top-down, coarse into fine
            feats[k] = feats[k] + _up(feats[k + 1], feats[k])
        return feats

    def forward(self, grid: Tensor) -> list[tuple[Tensor, Tensor, Tensor]]:
        if grid.shape[1] % 8 or grid.shape[2] % 8:
            raise VitgatesError(f"grid {grid.shape[1]}x{grid.shape[2]}: sides must be "
                                "divisible by 8 (levels down to stride 128)")
        e = self.text_embed
        out = []
        for k, f in enumerate(self.levels(grid)):
            c = self.cls_tower(f)
            t = F.normalize(self.cls_project(c.permute(0, 2, 3, 1)), dim=-1)
            cls = (t @ e.T) * self.logit_scale.exp() + self.cls_bias
            r = self.reg_tower(f)
            box = torch.exp((self.scales[k] * self.box(r)).clamp(max=10)) * self.strides[k]
            out.append((cls.permute(0, 3, 1, 2), box, self.ctr(r)))
        return out
