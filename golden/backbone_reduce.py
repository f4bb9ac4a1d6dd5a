"""Attacks on the backbone while the person classifier stays (seed 000, stages 1, 2, 2b, 3).

The person classifier reads a pooled feature ``p`` of the backbone (the mean of the
normalised patch tokens, or the normalised class token) and decides
``Σ p[pos] − Σ p[neg] > θ`` (:mod:`.person_float`). The stages here change the backbone
and measure that decision on a labelled calibration set (:class:`CalibrationSet`).

**Stage 1, output-channel slicing** (:class:`SlicedPersonBackbone`). The final LayerNorm
needs every channel for its mean and variance, but its affine part and everything after it
is per channel, and pooling and the sum-difference are linear. So the 768 outputs collapse
into the 40 the classifier reads, and the classifier folds into them: with ``x̂`` the
normalised (affine-free) final tokens, ``g``/``b`` the LayerNorm affine and ``w`` = ±1 on
the positive / negative dimensions, ``score = pool(x̂)[dims] · (w ⊙ g[dims]) +
(Σ w ⊙ b[dims] − θ)`` and the decision is ``score > 0``: the same decision as the full
backbone plus classifier, up to float rounding of the pooled sum.

**Stage 2, attention-head ablation** (:func:`ablate_heads`, :func:`prune_heads`). A head is
masked by zeroing its slice of the attention output before the output projection (a
forward pre-hook on ``attn.proj``, :func:`masked_heads`). Its score is the change of the
classifier's F1 on the calibration set with the threshold refitted there
(``delta_f1``), and the mean absolute change of the sum-difference in units of its
standard deviation (``shift``). Greedy pruning removes heads in order of ablation score
(``mode="ranked"``, one pass) or re-scores every remaining head after each removal
(``mode="greedy"``, K passes), and reports F1 against K.

**Stage 2b, structural removal** (:func:`remove_heads`). The masked heads' rows of ``qkv``
(query, key and value) and columns of ``proj`` are cut out and the block's ``num_heads``
drops; the result is a smaller :class:`~.backbone.EupeViT` whose state dict loads into a
model built from the same structure (:func:`save_reduced` / :func:`load_reduced`). Its
outputs equal the masked model's up to float summation order (tested: max |Δ| ≤ 1e-5 on
the normalised tokens of a vitt16).

**Stage 3, depth reduction** (:func:`ablate_blocks`, :func:`drop_blocks`). A block is
skipped by taking it out of ``model.blocks`` (the residual stream passes through);
scoring, greedy removal and the report work as for heads.

Every reduction writes a report (:func:`write_report`): JSON and Markdown under
``build/reports/``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import VitgatesError
from ..fileio import atomic_write_json, atomic_write_text
from .backbone import ARCHS, N_STORAGE, EupeViT, MaskedBiasLinear, _rotate_half
from .person_float import FloatPersonClassifier, f1_score, fit_person, fit_threshold

__all__ = [
    "REDUCED_FORMAT",
    "CalibrationSet",
    "PrunedAttention",
    "SlicedPersonBackbone",
    "ablate_blocks",
    "ablate_heads",
    "build_reduced",
    "collect_pooled",
    "count_params",
    "drop_blocks",
    "evaluate",
    "fit_classifier",
    "load_reduced",
    "masked_heads",
    "pooled_features",
    "prune_blocks",
    "prune_heads",
    "remove_heads",
    "save_reduced",
    "structure",
    "tensor_set",
    "write_report",
]

REDUCED_FORMAT = "vitgates-reduced-eupe"


# -- data -----------------------------------------------------------------------------------


@dataclass
class CalibrationSet:
    """Labelled images: ``batches()`` yields normalised [b, 3, S, S] float32 tensors in a
    fixed order (the same on every call); ``labels`` [n] bool (person present)."""

    batches: Callable[[], Iterator[Tensor]]
    labels: np.ndarray
    label: str
    synthetic: bool

    def __len__(self) -> int:
        return len(self.labels)


def tensor_set(images: Tensor, labels, label: str, *, synthetic: bool,
               batch_size: int = 16) -> CalibrationSet:
    """A :class:`CalibrationSet` over images held in memory ([n, 3, S, S])."""

    def batches():
        for s in range(0, len(images), batch_size):
            yield images[s : s + batch_size]

    return CalibrationSet(batches, np.asarray(labels, bool), label, synthetic)


def pooled_features(model: nn.Module, images: Tensor, pool: str = "mean") -> Tensor:
    """The pooled feature the classifier reads: [B, D] (``mean`` of the normalised patch
    tokens, or the normalised class token for ``cls``)."""
    f = model.forward_features(images)
    if pool == "mean":
        return f["x_norm_patchtokens"].mean(1)
    if pool == "cls":
        return f["x_norm_clstoken"]
    raise VitgatesError(f"pool must be 'mean' or 'cls', got {pool!r}")


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def collect_pooled(model: nn.Module, cal: CalibrationSet, pool: str = "mean") -> np.ndarray:
    """Pooled features of every calibration image: [n, D] float32."""
    dev = _device_of(model)
    out = [pooled_features(model, x.to(dev), pool).float().cpu().numpy() for x in cal.batches()]
    return np.concatenate(out)


@torch.no_grad()
def _scores(model: nn.Module, cal: CalibrationSet, clf: FloatPersonClassifier,
            pool: str) -> np.ndarray:
    dev = _device_of(model)
    pos = torch.as_tensor(clf.pos_dims, device=dev)
    neg = torch.as_tensor(clf.neg_dims, device=dev)
    out = []
    for x in cal.batches():
        p = pooled_features(model, x.to(dev), pool).double()
        out.append((p[:, pos].sum(1) - p[:, neg].sum(1)).cpu().numpy())
    return np.concatenate(out)


def _f1_refit(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """F1 of ``scores > θ`` with θ refitted on the data, and that θ."""
    theta = fit_threshold(scores[:, None], labels, [0], [])
    return f1_score(scores > theta, labels)[0], theta


def evaluate(model: nn.Module, cal: CalibrationSet, clf: FloatPersonClassifier,
             pool: str = "mean") -> dict:
    """The classifier on ``model``: F1 at its own threshold, F1 with the threshold refitted
    on ``cal``, that threshold, and the scores' standard deviation."""
    s = _scores(model, cal, clf, pool)
    f1_fixed = f1_score(s > clf.threshold, cal.labels)[0]
    f1, theta = _f1_refit(s, cal.labels)
    return {"f1": round(f1, 4), "f1_fixed_threshold": round(f1_fixed, 4),
            "threshold": theta, "score_std": float(s.std()), "_scores": s}


def count_params(model: nn.Module) -> int:
    """Learnable parameters (buffers such as ``bias_mask`` and RoPE periods excluded)."""
    return sum(p.numel() for p in model.parameters())


# -- stage 1 ----------------------------------------------------------------------------------


class SlicedPersonBackbone(nn.Module):
    """The backbone fused with the person classifier (stage 1; module docstring).

    Holds the blocks of ``model`` (shared, not copied) and the 40 dimensions' readout:
    ``dims`` [40] int64, ``gain`` [40] (LayerNorm weight on those dims), ``shift`` [40]
    (LayerNorm bias), ``coef`` [40] = ±gain, ``offset`` = Σ ±shift − θ.
    :meth:`forward_dims` returns the 40 pooled dimensions [B, 40]; :meth:`forward` the
    fused score [B] (person where > 0).
    """

    def __init__(self, model: EupeViT, clf: FloatPersonClassifier, pool: str = "mean"):
        super().__init__()
        if pool not in ("mean", "cls"):
            raise VitgatesError(f"pool must be 'mean' or 'cls', got {pool!r}")
        self.pool = pool
        self.embed_dim = model.embed_dim
        self.eps = model.norm.eps
        self.cls_token, self.storage_tokens = model.cls_token, model.storage_tokens
        self.mask_token = model.mask_token
        self.patch_embed, self.rope_embed, self.blocks = (model.patch_embed, model.rope_embed,
                                                          model.blocks)
        dims = list(clf.pos_dims) + list(clf.neg_dims)
        sign = torch.tensor([1.0] * len(clf.pos_dims) + [-1.0] * len(clf.neg_dims),
                            dtype=torch.float64)
        g = model.norm.weight.detach().double().cpu()[dims]
        b = model.norm.bias.detach().double().cpu()[dims]
        dev = model.norm.weight.device
        self.register_buffer("dims", torch.tensor(dims, dtype=torch.long, device=dev))
        self.register_buffer("gain", g.float().to(dev))
        self.register_buffer("shift", b.float().to(dev))
        self.register_buffer("coef", (sign * g).float().to(dev))
        self.register_buffer("offset", ((sign * b).sum() - clf.threshold).reshape(1).to(dev))
        self.threshold = float(clf.threshold)

    def _normalised(self, images: Tensor) -> Tensor:
        """Affine-free final LayerNorm of the tokens the pool reads, at the 40 dims."""
        B, _, H, W = images.shape
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        cls = self.cls_token + 0 * self.mask_token
        x = torch.cat([cls.expand(B, -1, -1), self.storage_tokens.expand(B, -1, -1), x], 1)
        rope = self.rope_embed(H // 16, W // 16)
        for blk in self.blocks:
            x = blk(x, rope)
        x = x[:, 1 + N_STORAGE :] if self.pool == "mean" else x[:, :1]
        xh = F.layer_norm(x, (self.embed_dim,), eps=self.eps)  # statistics need all dims
        return xh[..., self.dims].mean(1)  # [B, 40]

    def forward_dims(self, images: Tensor) -> Tensor:
        """The 40 pooled dimensions the classifier reads: [B, 40] float32."""
        return self._normalised(images) * self.gain + self.shift

    def forward(self, images: Tensor) -> Tensor:
        """The fused score ``Σ pos − Σ neg − θ``: [B] float64 (person where > 0)."""
        return self._normalised(images).double() @ self.coef.double() + self.offset

    def n_outputs(self) -> int:
        return int(self.dims.numel())


# -- stage 2: heads -------------------------------------------------------------------------


def structure(model: EupeViT) -> dict:
    """``{"arch", "blocks": [original block index], "heads": [[original head index] per
    kept block]}`` of a (possibly reduced) model."""
    blocks = getattr(model, "kept_blocks", list(range(len(model.blocks))))
    heads = [list(getattr(b.attn, "kept_heads", range(b.attn.heads))) for b in model.blocks]
    return {"arch": model.arch, "blocks": list(blocks), "heads": heads}


@contextlib.contextmanager
def masked_heads(model: EupeViT, heads):
    """Zero the outputs of ``heads`` (pairs ``(block position, head)`` in the current
    model) while the block runs: a pre-hook on each affected ``attn.proj``."""
    by_block: dict[int, list[int]] = {}
    for b, h in heads:
        by_block.setdefault(int(b), []).append(int(h))
    handles = []
    for b, hs in by_block.items():
        attn = model.blocks[b].attn
        hd = attn.proj.in_features // attn.heads
        mask = torch.ones(attn.proj.in_features, device=attn.proj.weight.device)
        for h in hs:
            mask[h * hd : (h + 1) * hd] = 0

        def hook(_mod, args, mask=mask):
            return (args[0] * mask.to(args[0].dtype),)

        handles.append(attn.proj.register_forward_pre_hook(hook))
    try:
        yield model
    finally:
        for h in handles:
            h.remove()


def _all_heads(model: EupeViT) -> list[tuple[int, int]]:
    return [(b, h) for b, blk in enumerate(model.blocks) for h in range(blk.attn.heads)]


def _head_params(model: EupeViT, b: int) -> int:
    attn = model.blocks[b].attn
    hd = attn.proj.in_features // attn.heads
    C = attn.proj.out_features
    return 3 * hd * C + 3 * hd + C * hd  # qkv rows and bias, proj columns


def ablate_heads(model: EupeViT, cal: CalibrationSet, clf: FloatPersonClassifier, *,
                 pool: str = "mean", masked=(), progress: Callable | None = None) -> list[dict]:
    """Score every head not yet in ``masked``: one row per head, ``block``, ``head``,
    ``f1`` (refitted threshold, head masked on top of ``masked``), ``delta_f1`` and
    ``shift`` (mean |Δ score| / score std) against the model with ``masked`` only."""
    masked = list(masked)
    with masked_heads(model, masked):
        base = evaluate(model, cal, clf, pool)
    rows = []
    cands = [bh for bh in _all_heads(model) if bh not in set(masked)]
    for k, (b, h) in enumerate(cands):
        with masked_heads(model, [*masked, (b, h)]):
            s = _scores(model, cal, clf, pool)
        f1, _ = _f1_refit(s, cal.labels)
        rows.append({"block": b, "head": h, "f1": round(f1, 4),
                     "delta_f1": round(f1 - base["f1"], 4),
                     "shift": float(np.abs(s - base["_scores"]).mean()
                                    / max(base["score_std"], 1e-12))})
        if progress:
            progress(k + 1, len(cands))
    return rows


def _rank(rows: list[dict]) -> list[dict]:
    # best to remove first: the largest F1 gain, then the smallest effect on the score
    return sorted(rows, key=lambda r: (-r["delta_f1"], r["shift"]))


def prune_heads(model: EupeViT, cal: CalibrationSet, clf: FloatPersonClassifier, k_max: int,
                *, pool: str = "mean", mode: str = "ranked",
                progress: Callable | None = None) -> dict:
    """Greedy head pruning up to ``k_max`` heads (stage 2).

    Returns ``{"scores": ablation rows, "curve": [{"k", "f1", "removed", "params_masked"}],
    "best": the curve row with the highest F1 (fewest heads on a tie), "order": [[block,
    head]...]}``; ``curve[0]`` is the unpruned model.
    """
    if mode not in ("ranked", "greedy"):
        raise VitgatesError(f"mode must be 'ranked' or 'greedy', got {mode!r}")
    total = len(_all_heads(model))
    if not 0 <= k_max < total:
        raise VitgatesError(f"can prune 0..{total - 1} heads, not {k_max}")
    scores = ablate_heads(model, cal, clf, pool=pool, progress=progress)
    order: list[tuple[int, int]] = []
    base = evaluate(model, cal, clf, pool)
    curve = [{"k": 0, "f1": base["f1"], "removed": None, "params_masked": 0}]
    ranked = [(r["block"], r["head"]) for r in _rank(scores)]
    for k in range(1, k_max + 1):
        if mode == "ranked":
            nxt = ranked[k - 1]
        else:
            rows = _rank(ablate_heads(model, cal, clf, pool=pool, masked=order))
            nxt = (rows[0]["block"], rows[0]["head"])
        order.append(nxt)
        with masked_heads(model, order):
            r = evaluate(model, cal, clf, pool)
        curve.append({"k": k, "f1": r["f1"], "removed": list(nxt),
                      "params_masked": sum(_head_params(model, b) for b, _ in order)})
    best = max(curve, key=lambda c: (c["f1"], -c["k"]))
    return {"scores": scores, "curve": curve, "best": best, "order": [list(o) for o in order],
            "mode": mode}


# -- stage 2b: structural removal -------------------------------------------------------------


class PrunedAttention(nn.Module):
    """:class:`~.backbone.Attention` with some heads removed: ``qkv`` [3·h·hd, C] (query,
    key, value rows of the kept heads), ``proj`` [C, h·hd]; ``kept_heads`` the original
    head indices. With no head left the output is ``proj.bias``."""

    def __init__(self, dim: int, head_dim: int, kept_heads):
        super().__init__()
        self.kept_heads = [int(h) for h in kept_heads]
        self.heads = len(self.kept_heads)
        self.head_dim = head_dim
        inner = self.heads * head_dim
        with warnings.catch_warnings():  # no head left: zero-size weights are fine here
            warnings.simplefilter("ignore", UserWarning)
            self.qkv = MaskedBiasLinear(dim, 3 * inner)
            self.proj = nn.Linear(inner, dim)

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        B, N, C = x.shape
        if self.heads == 0:
            return self.proj.bias.expand(B, N, C)
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim)
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))
        sin, cos = rope
        p = N - sin.shape[0]
        q = torch.cat([q[:, :, :p], q[:, :, p:] * cos + _rotate_half(q[:, :, p:]) * sin], 2)
        k = torch.cat([k[:, :, :p], k[:, :, p:] * cos + _rotate_half(k[:, :, p:]) * sin], 2)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(B, N, self.heads * self.head_dim))


def remove_heads(model: EupeViT, heads) -> EupeViT:
    """A copy of ``model`` with ``heads`` (pairs ``(block position, head)``) physically
    removed (stage 2b). The original is left alone."""
    out = copy.deepcopy(model)
    by_block: dict[int, set[int]] = {}
    for b, h in heads:
        by_block.setdefault(int(b), set()).add(int(h))
    for b, gone in by_block.items():
        attn = out.blocks[b].attn
        n = attn.heads
        hd = attn.proj.in_features // n
        C = attn.proj.out_features
        old_ids = list(getattr(attn, "kept_heads", range(n)))
        keep = [h for h in range(n) if h not in gone]
        new = PrunedAttention(C, hd, [old_ids[h] for h in keep])
        cols = torch.tensor([h * hd + d for h in keep for d in range(hd)], dtype=torch.long)
        inner = n * hd
        rows = torch.cat([cols + j * inner for j in range(3)])  # q, k, v of the kept heads
        with torch.no_grad():
            new.qkv.weight.copy_(attn.qkv.weight[rows])
            new.qkv.bias.copy_(attn.qkv.bias[rows])
            new.qkv.bias_mask.copy_(attn.qkv.bias_mask[rows])
            new.proj.weight.copy_(attn.proj.weight[:, cols])
            new.proj.bias.copy_(attn.proj.bias)
        out.blocks[b].attn = new.to(attn.proj.weight.device)
    return out


# -- stage 3: blocks --------------------------------------------------------------------------


def drop_blocks(model: EupeViT, blocks) -> EupeViT:
    """A copy of ``model`` without the blocks at ``blocks`` (positions in the current
    model); ``kept_blocks`` records the original indices."""
    out = copy.deepcopy(model)
    gone = {int(b) for b in blocks}
    kept = getattr(model, "kept_blocks", list(range(len(model.blocks))))
    out.blocks = nn.ModuleList(b for i, b in enumerate(out.blocks) if i not in gone)
    out.kept_blocks = [k for i, k in enumerate(kept) if i not in gone]
    return out


@contextlib.contextmanager
def _skipped(model: EupeViT, blocks):
    saved = model.blocks
    gone = set(blocks)
    model.blocks = nn.ModuleList(b for i, b in enumerate(saved) if i not in gone)
    try:
        yield model
    finally:
        model.blocks = saved


def ablate_blocks(model: EupeViT, cal: CalibrationSet, clf: FloatPersonClassifier, *,
                  pool: str = "mean", dropped=(), progress: Callable | None = None) -> list:
    """Score every block not in ``dropped`` as :func:`ablate_heads` scores heads."""
    dropped = list(dropped)
    with _skipped(model, dropped):
        base = evaluate(model, cal, clf, pool)
    rows = []
    cands = [b for b in range(len(model.blocks)) if b not in set(dropped)]
    for k, b in enumerate(cands):
        with _skipped(model, [*dropped, b]):
            s = _scores(model, cal, clf, pool)
        f1, _ = _f1_refit(s, cal.labels)
        rows.append({"block": b, "f1": round(f1, 4), "delta_f1": round(f1 - base["f1"], 4),
                     "shift": float(np.abs(s - base["_scores"]).mean()
                                    / max(base["score_std"], 1e-12))})
        if progress:
            progress(k + 1, len(cands))
    return rows


def prune_blocks(model: EupeViT, cal: CalibrationSet, clf: FloatPersonClassifier,
                 k_max: int, *, pool: str = "mean", mode: str = "greedy",
                 progress: Callable | None = None) -> dict:
    """Greedy block removal up to ``k_max`` blocks (stage 3): like :func:`prune_heads`,
    curve rows ``{"k", "f1", "removed", "params_removed"}``."""
    if mode not in ("ranked", "greedy"):
        raise VitgatesError(f"mode must be 'ranked' or 'greedy', got {mode!r}")
    if not 0 <= k_max < len(model.blocks):
        raise VitgatesError(f"can drop 0..{len(model.blocks) - 1} blocks, not {k_max}")
    scores = ablate_blocks(model, cal, clf, pool=pool, progress=progress)
    per_block = count_params(model.blocks[0])
    base = evaluate(model, cal, clf, pool)
    curve = [{"k": 0, "f1": base["f1"], "removed": None, "params_removed": 0}]
    ranked = [r["block"] for r in _rank(scores)]
    order: list[int] = []
    for k in range(1, k_max + 1):
        if mode == "ranked":
            nxt = ranked[k - 1]
        else:
            nxt = _rank(ablate_blocks(model, cal, clf, pool=pool, dropped=order))[0]["block"]
        order.append(nxt)
        with _skipped(model, order):
            r = evaluate(model, cal, clf, pool)
        curve.append({"k": k, "f1": r["f1"], "removed": nxt, "params_removed": k * per_block})
    best = max(curve, key=lambda c: (c["f1"], -c["k"]))
    return {"scores": scores, "curve": curve, "best": best, "order": order, "mode": mode}


# -- files ------------------------------------------------------------------------------------


def save_reduced(model: EupeViT, path, meta: dict | None = None) -> Path:
    """Write a reduced backbone as safetensors, its :func:`structure` and ``meta`` in the
    metadata; :func:`load_reduced` reads it back into a model of the same shape."""
    from safetensors.torch import save

    from ..fileio import atomic_write_bytes

    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    md = {"format": REDUCED_FORMAT, "structure": json.dumps(structure(model)),
          "meta": json.dumps(meta or {})}
    return atomic_write_bytes(Path(path), save(sd, metadata=md))


def build_reduced(st: dict) -> EupeViT:
    """An (uninitialised) model with the shape ``st`` (:func:`structure`) describes."""
    arch = st.get("arch")
    if arch not in ARCHS:
        raise VitgatesError(f"unknown backbone {arch!r} in the reduced structure")
    dim, heads = ARCHS[arch]
    model = EupeViT(arch)
    blocks, kept = st["blocks"], st["heads"]
    if len(blocks) != len(kept) or any(not 0 <= b < len(model.blocks) for b in blocks):
        raise VitgatesError("reduced structure: 'blocks' and 'heads' do not match")
    model.blocks = nn.ModuleList(model.blocks[b] for b in blocks)
    model.kept_blocks = list(blocks)
    for blk, hs in zip(model.blocks, kept, strict=True):
        if list(hs) != list(range(heads)):
            blk.attn = PrunedAttention(dim, dim // heads, hs)
    return model


def load_reduced(path) -> tuple[EupeViT, dict]:
    """Read a file written by :func:`save_reduced`: ``(model in eval mode, meta)``."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise VitgatesError(f"{path}: no such reduced backbone file")
    try:
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
            sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
    except Exception as e:
        raise VitgatesError(f"{path}: not a readable safetensors file "
                            f"({type(e).__name__})") from None
    if md.get("format") != REDUCED_FORMAT:
        raise VitgatesError(f"{path}: not a reduced backbone file")
    model = build_reduced(json.loads(md["structure"]))
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise VitgatesError(f"{path}: tensors do not fit the structure "
                            f"({str(e).splitlines()[0][:120]})") from None
    model.requires_grad_(False)
    return model.eval(), json.loads(md.get("meta", "{}"))


def write_report(name: str, data: dict, md_lines: list[str], root) -> tuple[Path, Path]:
    """``<root>/reports/<name>.json`` and ``.md`` (atomic writes)."""
    rep = Path(root) / "reports"
    j = atomic_write_json(rep / f"{name}.json", _clean(data))
    m = atomic_write_text(rep / f"{name}.md", "\n".join(md_lines) + "\n")
    return j, m


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.generic):
        return x.item()
    return x


def fit_classifier(model: EupeViT, cal: CalibrationSet, pool: str = "mean",
                   n_pos: int = 20, n_neg: int = 20) -> FloatPersonClassifier:
    """Discover the classifier's dimensions and threshold on ``model``'s pooled features
    of ``cal`` (when no classifier file is given)."""
    f = collect_pooled(model, cal, pool)
    return fit_person(f, cal.labels, n_pos, n_neg, source={"dataset": cal.label,
                                                           "synthetic": cal.synthetic})
