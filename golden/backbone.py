"""The frozen backbone: EUPE-ViT (T/S/B, patch 16) in PyTorch, and its input preprocessing.

EUPE's ViTs are DINOv3-style vision transformers: a 16×16 patch embedding, one class token
and 4 storage (register) tokens, no absolute position embedding but axial RoPE on the patch
tokens (base 100, coordinates normalised separately along height and width into [-1, 1]),
pre-norm blocks with LayerNorm (eps 1e-5), LayerScale on both residual branches, a GELU MLP
(ratio 4), and a qkv projection whose key bias is masked out by a stored buffer
(``qkv.bias_mask``). The module here reproduces that forward pass in eval mode and has
exactly the official ``state_dict`` layout (tests/data/eupe_state_dict_layout.json), so an
official checkpoint loads with ``strict=True``.

Why a compact implementation of our own: the reference implementation is not published as
an installable package, and the maintained library that implements this family (timm)
requires torchvision and stores the weights under different key names, so it would not
load the official layout without a key-remapping layer that is longer than the model
itself. The forward pass below is about a hundred lines and depends on PyTorch alone.

Preprocessing (:func:`letterbox`, :func:`preprocess`): the longest image side is resized
to the input size (640 or 768 px) keeping the aspect ratio, the image sits in the top-left
corner of a square canvas, the rest is filled with the ImageNet mean colour (0 after
normalisation), and pixels are normalised with the ImageNet mean and standard deviation.
A box in the original image maps to the canvas by multiplying it with the returned scale.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file
from torch import Tensor, nn

from ..errors import VitgatesError

__all__ = [
    "ARCHS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INPUT_SIZES",
    "N_STORAGE",
    "PATCH",
    "EupeViT",
    "Letterbox",
    "eupe_vit",
    "letterbox",
    "load_eupe",
    "load_layout",
    "preprocess",
]

PATCH = 16
N_STORAGE = 4
INPUT_SIZES = (640, 768)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: arch -> (embed dim, heads); all have depth 12 and MLP ratio 4.
ARCHS: dict[str, tuple[int, int]] = {
    "vitt16": (192, 3),
    "vits16": (384, 6),
    "vitb16": (768, 12),
}
DEPTH = 12
MLP_RATIO = 4
LN_EPS = 1e-5
ROPE_BASE = 100.0


def _rotate_half(x: Tensor) -> Tensor:
    # [a, b] -> [-b, a] on the two halves of the last axis
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


class RopeEmbedding(nn.Module):
    """Axial RoPE tables for an ``H × W`` patch grid.

    ``periods`` [head_dim / 4] float32 is a persistent buffer (it is in the checkpoint):
    ``base ** (2 i / (head_dim / 2))``. :meth:`forward` returns ``(sin, cos)``, each
    [H·W, head_dim] float32, for patch tokens in row-major order.
    """

    def __init__(self, head_dim: int, base: float = ROPE_BASE):
        super().__init__()
        n = head_dim // 4
        periods = base ** (2 * torch.arange(n, dtype=torch.float32) / (head_dim // 2))
        self.register_buffer("periods", periods, persistent=True)

    def forward(self, H: int, W: int) -> tuple[Tensor, Tensor]:
        dev = self.periods.device
        # 'separate' normalisation: cell centres in [0, 1] per axis, then mapped to [-1, 1]
        ch = torch.arange(0.5, H, device=dev, dtype=torch.float32) / H
        cw = torch.arange(0.5, W, device=dev, dtype=torch.float32) / W
        coords = torch.stack(torch.meshgrid(ch, cw, indexing="ij"), dim=-1).flatten(0, 1)
        coords = 2.0 * coords - 1.0  # [HW, 2]
        angles = 2 * math.pi * coords[:, :, None] / self.periods[None, None, :]
        angles = angles.flatten(1, 2).tile(2)  # [HW, head_dim]
        return torch.sin(angles), torch.cos(angles)


class MaskedBiasLinear(nn.Linear):
    """``nn.Linear`` whose bias is multiplied by the buffer ``bias_mask`` (0 on the keys).

    The mask is part of the checkpoint; a fresh module masks the middle third (the keys).
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features, bias=True)
        mask = torch.ones(out_features)
        mask[out_features // 3 : 2 * out_features // 3] = 0
        self.register_buffer("bias_mask", mask, persistent=True)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias * self.bias_mask.to(self.bias.dtype))


class Attention(nn.Module):
    """Multi-head self-attention with RoPE on the patch tokens (the last H·W tokens)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = MaskedBiasLinear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads)
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))  # [B, heads, N, head_dim]
        sin, cos = rope
        p = N - sin.shape[0]  # class + storage tokens carry no position
        q = torch.cat([q[:, :, :p], q[:, :, p:] * cos + _rotate_half(q[:, :, p:]) * sin], 2)
        k = torch.cat([k[:, :, :p], k[:, :, p:] * cos + _rotate_half(k[:, :, p:]) * sin], 2)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class LayerScale(nn.Module):
    def __init__(self, dim: int, init: float = 1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, MLP_RATIO * dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        x = x + self.ls1(self.attn(self.norm1(x), rope))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=PATCH, stride=PATCH)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)  # [B, D, H/16, W/16]


class EupeViT(nn.Module):
    """An EUPE ViT with patch 16 (see the module docstring); build it with :func:`eupe_vit`.

    Attributes: ``arch``, ``embed_dim`` (D), ``num_heads``, ``patch_size`` (16),
    ``n_storage_tokens`` (4).
    """

    def __init__(self, arch: str):
        super().__init__()
        dim, heads = ARCHS[arch]
        self.arch = arch
        self.embed_dim = dim
        self.num_heads = heads
        self.patch_size = PATCH
        self.n_storage_tokens = N_STORAGE
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.storage_tokens = nn.Parameter(torch.zeros(1, N_STORAGE, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.patch_embed = PatchEmbed(dim)
        self.rope_embed = RopeEmbedding(dim // heads)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(DEPTH))
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)

    def forward_features(self, images: Tensor) -> dict[str, Tensor]:
        """Run the backbone on normalised images.

        ``images``: [B, 3, H, W] float32, H and W multiples of 16. Returns a dict of
        float32 tensors: ``x_norm_clstoken`` [B, D], ``x_storage_tokens`` [B, 4, D],
        ``x_norm_patchtokens`` [B, N, D] with N = (H/16)·(W/16) in row-major order, and
        ``x_prenorm`` [B, 1+4+N, D]. Use :meth:`patch_grid` for the [B, H/16, W/16, D] grid.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images [B, 3, H, W], got {tuple(images.shape)}")
        B, _, H, W = images.shape
        if H % PATCH or W % PATCH:
            raise ValueError(f"image size {H}x{W} is not a multiple of {PATCH}")
        x = self.patch_embed(images).flatten(2).transpose(1, 2)  # [B, N, D]
        # '+ 0 * mask_token' keeps the reference behaviour (a non-finite mask token poisons cls)
        cls = self.cls_token + 0 * self.mask_token
        x = torch.cat([cls.expand(B, -1, -1), self.storage_tokens.expand(B, -1, -1), x], 1)
        rope = self.rope_embed(H // PATCH, W // PATCH)
        for blk in self.blocks:
            x = blk(x, rope)
        xn = self.norm(x)
        return {
            "x_norm_clstoken": xn[:, 0],
            "x_storage_tokens": xn[:, 1 : 1 + N_STORAGE],
            "x_norm_patchtokens": xn[:, 1 + N_STORAGE :],
            "x_prenorm": x,
        }

    def forward(self, images: Tensor) -> Tensor:
        """The normalised class token [B, D] (the reference model's default output)."""
        return self.forward_features(images)["x_norm_clstoken"]

    @staticmethod
    def patch_grid(features: dict[str, Tensor], H: int, W: int) -> Tensor:
        """``x_norm_patchtokens`` as a [B, H/16, W/16, D] grid for an H×W input."""
        t = features["x_norm_patchtokens"]
        return t.reshape(t.shape[0], H // PATCH, W // PATCH, t.shape[-1])


def eupe_vit(arch: str = "vitb16") -> EupeViT:
    """A randomly initialised EUPE ViT (``vitt16``, ``vits16`` or ``vitb16``) in eval mode.

    The initialisation is deterministic (its own generator, seed 0; biases zero, LayerNorm
    weights one, LayerScale 1e-5) and leaves the global RNG alone. Its ``state_dict()`` has
    the official key names and shapes; load weights with :func:`load_eupe`.
    """
    if arch not in ARCHS:
        raise VitgatesError(f"unknown backbone {arch!r}; choose one of {', '.join(ARCHS)}")
    model = EupeViT(arch)
    gen = torch.Generator().manual_seed(0)  # deterministic, and leaves the global RNG alone
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.ndim >= 2:
                nn.init.trunc_normal_(p, std=0.02, generator=gen)
            elif name in ("cls_token", "storage_tokens"):
                p.normal_(0.0, 0.02, generator=gen)
            elif name.endswith("bias"):
                p.zero_()  # torch's default bias init would draw from the global RNG
    return model.eval()


def load_layout(path) -> dict[str, dict[str, list[int]]]:
    """The reference layout JSON: ``{"eupe_<arch>": {"tensors": {key: shape}}}``."""
    d = json.loads(Path(path).read_text())
    return {k.removeprefix("eupe_"): v["tensors"] for k, v in d.items()}


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise VitgatesError(f"{path}: no such checkpoint file")
    try:
        if path.suffix == ".safetensors":
            sd = load_file(str(path))
        else:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable file: one line, not a traceback
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise VitgatesError(f"{path}: not a readable checkpoint ({msg[:120]})") from None
    if isinstance(sd, dict):
        for key in ("model", "state_dict", "teacher"):
            if key in sd and isinstance(sd[key], dict) and "cls_token" not in sd:
                sd = sd[key]
                break
    if not isinstance(sd, dict) or not all(isinstance(v, Tensor) for v in sd.values()):
        raise VitgatesError(f"{path}: not a state dict of tensors")
    return sd


def load_eupe(path, arch: str | None = None) -> EupeViT:
    """Load an official EUPE ViT checkpoint (``.pth`` or ``.safetensors``) strictly.

    ``arch``: ``vitt16``/``vits16``/``vitb16``, or None to infer it from the width of
    ``cls_token``. Missing or unexpected keys and shape mismatches raise
    :class:`~vitgates.VitgatesError` with one line. Returns the model in eval mode, float32,
    with gradients disabled.
    """
    path = Path(path)
    sd = _read_state_dict(path)
    if arch is None:
        width = sd["cls_token"].shape[-1] if "cls_token" in sd else None
        match = [a for a, (d, _) in ARCHS.items() if d == width]
        if not match:
            raise VitgatesError(f"{path}: cannot tell the architecture (no usable cls_token)")
        arch = match[0]
    if arch not in ARCHS:
        raise VitgatesError(f"unknown backbone {arch!r}; choose one of {', '.join(ARCHS)}")
    model = EupeViT(arch)  # no random init: every tensor is about to be overwritten
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s) e.g. {missing[0]!r}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) e.g. {unexpected[0]!r}")
        raise VitgatesError(f"{path}: not an EUPE {arch} checkpoint: {'; '.join(parts)}")
    for k, shape in want.items():
        if tuple(sd[k].shape) != shape:
            raise VitgatesError(
                f"{path}: not an EUPE {arch} checkpoint: {k!r} has shape "
                f"{list(sd[k].shape)}, expected {list(shape)}"
            )
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    model.requires_grad_(False)
    return model.eval()


# -- preprocessing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Letterbox:
    """How an image was placed on the square canvas.

    ``scale``: canvas pixels per original pixel; ``orig_hw``: original (height, width);
    ``size``: canvas side. The image occupies the top-left ``round(h·scale) ×
    round(w·scale)`` pixels.
    """

    scale: float
    orig_hw: tuple[int, int]
    size: int


def letterbox(image, size: int = 640) -> tuple[np.ndarray, Letterbox]:
    """Resize the longest side to ``size`` and pad to a square, top-left aligned.

    ``image``: a PIL image or an [H, W, 3] uint8 array. Returns ``(pixels, info)``:
    ``pixels`` [size, size, 3] float32 in [0, 1] with the padding at the ImageNet mean
    colour, and the :class:`Letterbox` placement.
    """
    if size % (4 * PATCH):
        raise VitgatesError(f"input size {size} must be a multiple of {4 * PATCH}")
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    image = image.convert("RGB")
    w, h = image.size
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(image.resize((nw, nh), Image.BILINEAR), dtype=np.float32) / 255.0
    canvas = np.empty((size, size, 3), np.float32)
    canvas[:] = np.asarray(IMAGENET_MEAN, np.float32)
    canvas[:nh, :nw] = resized
    return canvas, Letterbox(scale=scale, orig_hw=(h, w), size=size)


def preprocess(pixels: np.ndarray) -> Tensor:
    """[..., S, S, 3] float pixels in [0, 1] -> normalised [..., 3, S, S] float32 tensor."""
    x = (np.asarray(pixels, np.float32) - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(
        IMAGENET_STD, np.float32
    )
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, -3)))
