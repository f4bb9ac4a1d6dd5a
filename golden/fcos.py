"""The FCOS baseline head of seed 002 (PyTorch): a simple feature pyramid on the frozen
stride-16 grid, shared towers, centerness.

Pyramid (256 channels, GroupNorm 32), from the grid ``x`` [B, C, H, W] (C = 768):
P3 (stride 8) ``ConvTranspose2d(C, C, 2, s2)`` + GN, P4 (16) ``x`` itself, P5 (32) a 3×3
stride-2 conv ``C → C`` + GN; each of the three then 1×1 (C → 256) + GN and 3×3 + GN;
P6 (64) and P7 (128) 3×3 stride-2 convs (256 → 256) + GN on P5 and on relu(P6). Towers:
one classification and one regression tower, each four 3×3 conv + GN + ReLU shared by
the five levels; heads 3×3 convs to 80 class logits, 4 distances
``stride · exp(scale_level · v)`` and one centerness logit.

Parameters: 16,138,074 at the defaults, seed 002's count to the parameter. The seed does
not publish its layer list; this layout is the standard FCOS towers and predictors
(4,920,666) on a simple pyramid whose 11,217,408 parameters complete the seed's total.

:meth:`FCOSHead.forward` returns the same per-level triples as
:class:`~.split_tower.SplitTowerHead`, so the training and evaluation of
:mod:`.head_train` serve both.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import VitgatesError
from .split_tower import LEVEL_STRIDES

__all__ = ["SEED_PARAMS", "FCOSHead"]

SEED_PARAMS = 16_138_074
PRIOR = 0.01


def _gn(ch: int) -> nn.GroupNorm:
    # 32 groups at the real widths; narrow test heads keep 8 channels a group, so a 1×1
    # level still normalises over more than one value
    g = min(32, max(1, ch // 8))
    return nn.GroupNorm(g if ch % g == 0 else 1, ch)


def _level(cin: int, ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, ch, 1), _gn(ch), nn.Conv2d(ch, ch, 3, padding=1),
                         _gn(ch))


def _tower(ch: int, n: int) -> nn.Sequential:
    layers = []
    for _ in range(n):
        layers += [nn.Conv2d(ch, ch, 3, padding=1), _gn(ch), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class FCOSHead(nn.Module):
    """The FCOS baseline (module docstring); ``mid`` narrows the P3 / P5 resampling convs
    (default: ``in_dim``, the seed's count)."""

    strides = LEVEL_STRIDES

    def __init__(self, in_dim: int = 768, ch: int = 256, n_tower: int = 4,
                 num_classes: int = 80, mid: int | None = None):
        super().__init__()
        mid = mid or in_dim  # width of the P3 / P5 resampling convs (C in the docstring)
        self.config = {"in_dim": in_dim, "channels": ch, "n_tower": n_tower, "mid": mid}
        self.up = nn.Sequential(nn.ConvTranspose2d(in_dim, mid, 2, stride=2), _gn(mid))
        self.down = nn.Sequential(nn.Conv2d(in_dim, mid, 3, stride=2, padding=1), _gn(mid))
        self.p3 = _level(mid, ch)
        self.p4 = _level(in_dim, ch)
        self.p5 = _level(mid, ch)
        self.p6 = nn.Sequential(nn.Conv2d(ch, ch, 3, stride=2, padding=1), _gn(ch))
        self.p7 = nn.Sequential(nn.Conv2d(ch, ch, 3, stride=2, padding=1), _gn(ch))
        self.cls_tower = _tower(ch, n_tower)
        self.reg_tower = _tower(ch, n_tower)
        self.cls_logits = nn.Conv2d(ch, num_classes, 3, padding=1)
        self.box = nn.Conv2d(ch, 4, 3, padding=1)
        self.ctr = nn.Conv2d(ch, 1, 3, padding=1)
        self.scales = nn.Parameter(torch.ones(len(LEVEL_STRIDES)))
        for m in [*self.cls_tower, *self.reg_tower, self.cls_logits, self.box, self.ctr]:
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - PRIOR) / PRIOR))

    def calibration_parameters(self) -> list[nn.Parameter]:
        """The classification layer (the FCOS counterpart of the split-tower calibration)."""
        return [self.cls_logits.weight, self.cls_logits.bias]

    def levels(self, grid: Tensor) -> list[Tensor]:
        x = grid.permute(0, 3, 1, 2)
        p3 = self.p3(self.up(x))
        p4 = self.p4(x)
        p5 = self.p5(self.down(x))
        p6 = self.p6(p5)
        p7 = self.p7(F.relu(p6))
        return [p3, p4, p5, p6, p7]

    def forward(self, grid: Tensor) -> list[tuple[Tensor, Tensor, Tensor]]:
        if grid.shape[1] % 8 or grid.shape[2] % 8:
            raise VitgatesError(f"grid {grid.shape[1]}x{grid.shape[2]}: sides must be "
                                "divisible by 8 (levels down to stride 128)")
        out = []
        for k, f in enumerate(self.levels(grid)):
            c = self.cls_tower(f)
            r = self.reg_tower(f)
            box = torch.exp((self.scales[k] * self.box(r)).clamp(max=10)) * self.strides[k]
            out.append((self.cls_logits(c), box, self.ctr(r)))
        return out
