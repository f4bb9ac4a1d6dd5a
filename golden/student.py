"""A specialist student distilled from the frozen backbone (seed 000, stages 4, 4b, 4c).

The student is a small ViT of the backbone's family (16-px patches, axial RoPE, pre-norm
blocks from :mod:`.backbone`, no class or storage tokens) whose mean-pooled output goes
through one ``Linear(width, out_dim)``: ``out_dim`` 40 predicts the classifier's 40 dims
(positives then negatives), ``out_dim`` 768 the teacher's whole pooled vector (the 40 dims
are read from it). Targets are standardised per dimension with statistics of the teacher
measured before training (``target_mean``/``target_std`` buffers), so the losses do not
depend on the feature scale; :meth:`Student.dims` undoes it.

**Losses** (:class:`DistillConfig`, summed with their weights): ``dims`` the MSE on the
40 standardised target dims (stage 4); ``cosine`` 1 − cosine similarity with the full
768-d pooled teacher vector (stage 4b, needs ``out_dim`` 768); ``scalar`` the MSE on the
classifier's sum-difference ``Σ pos − Σ neg`` in units of the teacher's score spread
(stage 4c). Presets (:data:`STAGES`): ``4`` (3.27 M student, dims), ``4b`` (15.5 M student,
cosine + dims), ``4c`` (3.27 M, scalar + dims).

**Training** (:func:`train_student`): AdamW with a cosine schedule and linear warm-up, the
teacher in ``torch.no_grad``, bfloat16 autocast on CUDA, and a checkpoint (student,
optimiser, step) every ``save_every`` steps: a run that stops resumes from it where it
stopped, over the same data order. **Calibration** (:func:`calibrate_student`): the
threshold that maximises the student's F1 on labelled images, beside the teacher's, and
the agreement of the two decisions.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import VitgatesError
from ..fileio import atomic_write_bytes
from .backbone import LN_EPS, PATCH, Block, PatchEmbed, RopeEmbedding
from .backbone_reduce import CalibrationSet, pooled_features
from .person_float import FloatPersonClassifier, f1_score, fit_threshold

__all__ = [
    "PRESETS",
    "STAGES",
    "DistillConfig",
    "Student",
    "StudentConfig",
    "build_student",
    "calibrate_student",
    "load_student",
    "save_student",
    "student_params",
    "train_student",
]


@dataclass(frozen=True)
class StudentConfig:
    """Width, depth, heads (head dim = width / heads, a multiple of 4), ``out_dim`` (40 or
    the teacher's width)."""

    width: int = 192
    depth: int = 7
    heads: int = 3
    out_dim: int = 40
    mlp_ratio: int = 4

    def check(self, teacher_dim: int | None = None) -> None:
        if self.width % self.heads or (self.width // self.heads) % 4:
            raise VitgatesError(f"student width {self.width} / heads {self.heads} must give "
                                "a head dimension divisible by 4")
        if self.depth < 1 or self.mlp_ratio != 4:
            raise VitgatesError("student depth must be >= 1 (MLP ratio is 4)")
        if self.out_dim != 40 and teacher_dim is not None and self.out_dim != teacher_dim:
            raise VitgatesError(f"student out_dim must be 40 or the teacher's {teacher_dim}")


#: name -> config; parameter counts 3,272,488 and 15,463,776 (student_params)
PRESETS: dict[str, StudentConfig] = {
    "3.27m": StudentConfig(width=192, depth=7, heads=3, out_dim=40),
    "15.67m": StudentConfig(width=352, depth=10, heads=11, out_dim=768),
}


@dataclass(frozen=True)
class DistillConfig:
    """Loss weights and optimisation; :data:`STAGES` holds the seed's three."""

    dims: float = 1.0
    cosine: float = 0.0
    scalar: float = 0.0
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup: float = 0.05
    steps: int = 1000
    batch_size: int = 32
    grad_clip: float = 1.0
    seed: int = 0
    save_every: int = 200


STAGES: dict[str, tuple[str, DistillConfig]] = {
    "4": ("3.27m", DistillConfig(dims=1.0)),
    "4b": ("15.67m", DistillConfig(dims=1.0, cosine=1.0)),
    "4c": ("3.27m", DistillConfig(dims=1.0, scalar=1.0)),
}


class Student(nn.Module):
    """The student (module docstring). ``forward`` -> [B, out_dim] standardised outputs."""

    def __init__(self, cfg: StudentConfig, pos_dims, neg_dims):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg.width)
        self.rope_embed = RopeEmbedding(cfg.width // cfg.heads)
        self.blocks = nn.ModuleList(Block(cfg.width, cfg.heads) for _ in range(cfg.depth))
        for b in self.blocks:  # trained from scratch: LayerScale starts open
            nn.init.constant_(b.ls1.gamma, 0.1)
            nn.init.constant_(b.ls2.gamma, 0.1)
        self.norm = nn.LayerNorm(cfg.width, eps=LN_EPS)
        self.head = nn.Linear(cfg.width, cfg.out_dim)
        self.pos_dims, self.neg_dims = list(pos_dims), list(neg_dims)
        dims = self.pos_dims + self.neg_dims
        sel = torch.tensor(dims if cfg.out_dim != len(dims) else list(range(len(dims))))
        self.register_buffer("select", sel)  # output columns of the 40 dims
        self.register_buffer("teacher_dims", torch.tensor(dims))  # the 40 dims, teacher side
        self.register_buffer("sign", torch.tensor([1.0] * len(pos_dims) + [-1.0] * len(neg_dims)))
        self.register_buffer("target_mean", torch.zeros(cfg.out_dim))
        self.register_buffer("target_std", torch.ones(cfg.out_dim))

    def forward(self, images: Tensor) -> Tensor:
        B, _, H, W = images.shape
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        rope = self.rope_embed(H // PATCH, W // PATCH)
        for blk in self.blocks:
            x = blk(x, rope)
        return self.head(self.norm(x).mean(1))

    def outputs(self, images: Tensor) -> Tensor:
        """Outputs in the teacher's units: [B, out_dim]."""
        return self(images) * self.target_std + self.target_mean

    def dims(self, images: Tensor) -> Tensor:
        """The 40 classifier dims (positives then negatives), teacher units: [B, 40]."""
        return self.outputs(images)[:, self.select]

    def score(self, images: Tensor) -> Tensor:
        """The sum-difference ``Σ pos − Σ neg``: [B]."""
        return self.dims(images) @ self.sign


def student_params(cfg: StudentConfig) -> int:
    """Learnable parameters of a student with ``cfg`` (40 + 40 dims)."""
    return sum(p.numel() for p in Student(cfg, range(20), range(20, 40)).parameters())


def build_student(cfg: StudentConfig, clf: FloatPersonClassifier, seed: int = 0) -> Student:
    """A freshly initialised student (deterministic in ``seed``; the global RNG is left
    alone)."""
    cfg.check(clf.feature_dim)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Student(cfg, clf.pos_dims, clf.neg_dims)


def _targets(teacher: nn.Module, x: Tensor, student: Student, pool: str) -> Tensor:
    p = pooled_features(teacher, x, pool).float()
    return p[:, student.teacher_dims] if student.cfg.out_dim != p.shape[1] else p


def _lr_at(step: int, total: int, warmup: float) -> float:
    w = max(1, int(round(warmup * total)))
    if step < w:
        return (step + 1) / w
    return 0.5 * (1 + math.cos(math.pi * min((step - w) / max(1, total - w), 1.0)))


def distill_loss(out: Tensor, target: Tensor, student: Student, cfg: DistillConfig,
                 score_std: float) -> dict[str, Tensor]:
    """The three losses (module docstring) of standardised outputs ``out`` against teacher
    targets ``target`` (teacher units)."""
    z = (target - student.target_mean) / student.target_std
    sel = student.select
    zero = out.sum() * 0
    terms = {"dims": F.mse_loss(out[:, sel], z[:, sel]) if cfg.dims else zero}
    if cfg.cosine:
        pred = out * student.target_std + student.target_mean
        terms["cosine"] = (1 - F.cosine_similarity(pred, target, dim=1)).mean()
    else:
        terms["cosine"] = zero
    if cfg.scalar:
        pred = (out * student.target_std + student.target_mean)[:, sel] @ student.sign
        terms["scalar"] = F.mse_loss(pred / score_std, (target[:, sel] @ student.sign) / score_std)
    else:
        terms["scalar"] = zero
    terms["total"] = cfg.dims * terms["dims"] + cfg.cosine * terms["cosine"] \
        + cfg.scalar * terms["scalar"]
    return terms


def train_student(student: Student, teacher: nn.Module,
                  batches: Callable[[int], Iterator[Tensor]], cfg: DistillConfig, *,
                  pool: str = "mean", checkpoint=None, device: str = "cpu",
                  stop_at: int | None = None, progress: bool = False,
                  log: Callable[[str], None] | None = None) -> dict:
    """Distil ``teacher`` into ``student`` (in place); returns the training summary.

    ``batches(epoch)`` yields normalised image batches [b, 3, S, S], the same for the same
    epoch (the order a resumed run replays). ``checkpoint``: a file to resume from when it
    exists and to save to every ``cfg.save_every`` steps and at the end. ``stop_at``: stop
    (and save) after that step, as an interrupted run would; a later call resumes.
    """
    if cfg.cosine and student.cfg.out_dim == 40:
        raise VitgatesError("the cosine loss needs a student that outputs the whole pooled "
                            "vector (preset 15.67m), not the 40 dims")
    dev = torch.device(device)
    teacher = teacher.to(dev).eval().requires_grad_(False)
    student = student.to(dev).train()
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_at(s, cfg.steps, cfg.warmup))
    amp = (torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda"
           else torch.autocast("cpu", enabled=False))
    step, epoch, skip, score_std, history = 0, 0, 0, 1.0, []
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt and ckpt.is_file():
        st = torch.load(str(ckpt), map_location=dev, weights_only=False)
        student.load_state_dict(st["student"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        step, epoch, skip = st["step"], st["epoch"], st["batch"]
        score_std, history = st["score_std"], st["history"]
        if log:
            log(f"resumed from {ckpt} at step {step}")
    else:
        # target statistics from the first batches (the standardisation of the outputs)
        with torch.no_grad(), amp:
            t = torch.cat([_targets(teacher, x.to(dev), student, pool).float()
                           for _, x in zip(range(4), batches(0), strict=False)])
        student.target_mean.copy_(t.mean(0))
        student.target_std.copy_(t.std(0).clamp(min=1e-6))
        score_std = float((t[:, student.select] @ student.sign).std().clamp(min=1e-6))

    def save():
        if ckpt:
            buf = io.BytesIO()
            torch.save({"student": student.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "step": step, "epoch": epoch,
                        "batch": skip, "score_std": score_std, "history": history,
                        "config": asdict(student.cfg), "distill": asdict(cfg)}, buf)
            atomic_write_bytes(ckpt, buf.getvalue())

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    t0 = time.time()
    end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
    with Progress(TextColumn("[bold]distil"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[loss]}"), disable=not progress) as bar:
        task = bar.add_task("distil", total=cfg.steps, completed=step, loss="")
        while step < end:
            for k, x in enumerate(batches(epoch)):
                if k < skip:
                    continue
                if step >= end:
                    break
                x = x.to(dev)
                with amp:
                    with torch.no_grad():
                        target = _targets(teacher, x, student, pool).float()
                    out = student(x).float()
                terms = distill_loss(out, target, student, cfg, score_std)
                opt.zero_grad(set_to_none=True)
                terms["total"].backward()
                nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip)
                opt.step()
                sched.step()
                step, skip = step + 1, k + 1
                last = {n: round(float(v.detach()), 5) for n, v in terms.items()}
                bar.update(task, advance=1, loss=f"loss {last['total']:.4f}")
                if step % max(1, cfg.steps // 20) == 0 or step == cfg.steps:
                    history.append({"step": step, **last})
                    if log:
                        log(f"step {step}/{cfg.steps} loss {last['total']:.4f}")
                if cfg.save_every and step % cfg.save_every == 0:
                    save()
            else:
                epoch, skip = epoch + 1, 0
    save()
    student.eval()
    return {"steps": step, "history": history, "score_std": score_std,
            "seconds": round(time.time() - t0, 1), "params": student_params(student.cfg)}


@torch.no_grad()
def calibrate_student(student: Student, teacher: nn.Module, cal: CalibrationSet,
                      clf: FloatPersonClassifier, pool: str = "mean") -> dict:
    """The student's threshold (max F1 on ``cal``'s labels), its F1, the teacher's
    threshold and F1 refitted on the same images, and how often the student's decision
    equals the teacher's (at the student's own threshold and at the teacher's)."""
    dev = next(student.parameters()).device
    s_scores, t_scores = [], []
    pos, neg = clf.pos_dims, clf.neg_dims
    for x in cal.batches():
        x = x.to(dev)
        s_scores.append(student.score(x).double().cpu().numpy())
        p = pooled_features(teacher, x, pool).double().cpu().numpy()
        t_scores.append(p[:, pos].sum(1) - p[:, neg].sum(1))
    s, t = np.concatenate(s_scores), np.concatenate(t_scores)
    y = cal.labels
    teacher_dec = t > clf.threshold
    th_s = fit_threshold(s[:, None], y, [0], [])
    th_t = fit_threshold(t[:, None], y, [0], [])
    majority = max(teacher_dec.mean(), 1 - teacher_dec.mean())
    return {
        "student_threshold": th_s, "teacher_threshold": float(clf.threshold),
        "teacher_threshold_refit": th_t,
        "student_f1": round(f1_score(s > th_s, y)[0], 4),
        "teacher_f1": round(f1_score(t > th_t, y)[0], 4),
        "agreement_teacher_threshold": round(float(((s > clf.threshold) == teacher_dec).mean()), 4),
        "agreement_own_threshold": round(float(((s > th_s) == teacher_dec).mean()), 4),
        "chance_agreement": round(float(majority), 4),
        "score_correlation": round(float(np.corrcoef(s, t)[0, 1]), 4) if s.std() > 0 else 0.0,
        "n": int(len(y)),
    }


def save_student(student: Student, path, meta: dict | None = None) -> Path:
    """safetensors with the config, dims and ``meta`` in the metadata."""
    import json

    from safetensors.torch import save

    sd = {k: v.detach().cpu().contiguous() for k, v in student.state_dict().items()}
    md = {"format": "vitgates-student", "config": json.dumps(asdict(student.cfg)),
          "pos_dims": json.dumps(student.pos_dims), "neg_dims": json.dumps(student.neg_dims),
          "meta": json.dumps(meta or {})}
    return atomic_write_bytes(Path(path), save(sd, metadata=md))


def load_student(path) -> tuple[Student, dict]:
    """Read a file written by :func:`save_student`: ``(student in eval mode, meta)``."""
    import json

    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise VitgatesError(f"{path}: no such student file")
    try:
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
            sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as e:
        raise VitgatesError(f"{path}: not a readable safetensors file "
                            f"({type(e).__name__})") from None
    if md.get("format") != "vitgates-student":
        raise VitgatesError(f"{path}: not a student file")
    cfg = StudentConfig(**json.loads(md["config"]))
    st = Student(cfg, json.loads(md["pos_dims"]), json.loads(md["neg_dims"]))
    st.load_state_dict(sd, strict=True)
    return st.eval(), json.loads(md.get("meta", "{}"))
