"""``vitgates backbone``: the backbone reductions of seed 000 (stages 1, 2, 2b, 3, 4/4b/4c).

::

    vitgates backbone slice   --weights W --images DIR --ann FILE [--classifier F]
    vitgates backbone heads   ... [-k 10] [--mode ranked|greedy] [-o pruned.safetensors]
    vitgates backbone blocks  ... [-k 3] [-o dropped.safetensors]
    vitgates backbone student ... --stage 4|4b|4c [--steps N] [--checkpoint F] -o S

Without ``--weights`` a randomly initialised backbone (``--arch``, default vitt16) stands
in, and without ``--images`` the synthetic images (:func:`~vitgates.features.synthetic.
image_dataset`); every line and report then says so. Reports go to
``<build>/reports/backbone-<action>.{json,md}``. The work is in
:mod:`vitgates.golden.backbone_reduce` and :mod:`vitgates.golden.student`.
"""

from __future__ import annotations

import numpy as np

from ..errors import VitgatesError
from ..paths import build_root

__all__ = ["configure_parser", "run"]


def _common(p) -> None:
    p.add_argument("--weights", help="EUPE checkpoint (.pth/.safetensors), or a reduced "
                   "backbone this command saved; default: a random-weight backbone (--arch)")
    p.add_argument("--arch", default="vitt16", help="random backbone when no --weights "
                   "(vitt16, vits16, vitb16; default vitt16)")
    p.add_argument("--images", help="COCO image folder (with --ann): the calibration set")
    p.add_argument("--ann", help="COCO annotation file of --images (person labels)")
    p.add_argument("-n", type=int, default=1000, help="calibration images (default 1000)")
    p.add_argument("--resolution", type=int, default=768, help="input size for --images")
    p.add_argument("--synthetic-size", type=int, default=64,
                   help="synthetic image size (default 64)")
    p.add_argument("--classifier", help="float person classifier JSON (vitgates train "
                   "person); default: discovered on the calibration set")
    p.add_argument("--pool", choices=("mean", "cls"), default="mean")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto", help="auto (cuda when there), cpu, cuda")
    p.add_argument("--seed", type=int, default=0)


def configure_parser(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("slice", help="stage 1: the 40 output dims fused with the classifier",
                       description="Build the sliced backbone (only the classifier's 40 "
                       "dims, classifier folded in) and check its decisions against the "
                       "full backbone plus classifier.")
    _common(p)
    p = sub.add_parser("heads", help="stage 2/2b: head ablation, greedy pruning, removal",
                       description="Score every attention head by ablation, prune K "
                       "greedily, report F1 against K; -o removes the best K heads "
                       "structurally and saves the smaller backbone.")
    _common(p)
    p.add_argument("-k", type=int, default=10, help="heads to prune at most (default 10)")
    p.add_argument("--mode", choices=("ranked", "greedy"), default="ranked")
    p.add_argument("--remove", type=int, help="with -o: heads to remove (default: the K "
                   "with the best F1)")
    p.add_argument("-o", "--output", help="save the structurally pruned backbone here")
    p = sub.add_parser("blocks", help="stage 3: block-drop scoring and removal",
                       description="Score every block by dropping it, remove K greedily, "
                       "report F1 against K; -o saves the backbone without the best K.")
    _common(p)
    p.add_argument("-k", type=int, default=3, help="blocks to drop at most (default 3)")
    p.add_argument("--mode", choices=("ranked", "greedy"), default="greedy")
    p.add_argument("-o", "--output", help="save the reduced backbone here")
    p = sub.add_parser("student", help="stage 4/4b/4c: distil a specialist student",
                       description="Distil a small student from the frozen backbone "
                       "(losses: target dims, cosine on the pooled vector, sum-difference "
                       "MSE), calibrate its threshold; resumes from --checkpoint.")
    _common(p)
    p.add_argument("--stage", choices=("4", "4b", "4c"), default="4c")
    p.add_argument("--preset", choices=("3.27m", "15.67m"), help="student size (default: "
                   "the stage's)")
    p.add_argument("--width", type=int)
    p.add_argument("--depth", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--steps", type=int, default=None, help="default 20000 (real), 200 "
                   "(synthetic)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--train-images", help="image folder to distil on (default: the "
                   "calibration set's images)")
    p.add_argument("--checkpoint", help="resume from / save to this file")
    p.add_argument("-o", "--output", required=True, help="student (.safetensors)")


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise VitgatesError(f"--device must be auto, cpu or cuda, got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise VitgatesError("--device cuda: no CUDA device here")
    return name


def _model(args, dev):
    from ..golden.backbone import eupe_vit, load_eupe
    from ..golden.backbone_reduce import REDUCED_FORMAT, load_reduced

    if args.weights:
        if args.weights.endswith(".safetensors"):
            from safetensors import safe_open

            try:
                with safe_open(args.weights, framework="pt") as f:
                    reduced = (f.metadata() or {}).get("format") == REDUCED_FORMAT
            except Exception:
                reduced = False
            if reduced:
                return load_reduced(args.weights)[0].to(dev), False
        return load_eupe(args.weights).to(dev), False
    return eupe_vit(args.arch).to(dev), True


def _file_batches(paths, resolution, bs, *, keep: bool = False):
    """``batches()`` over image files; ``keep``: hold the preprocessed batches in memory
    (float16) after the first pass, so the many passes of an ablation decode once."""
    kept: list = []

    def batches():
        from PIL import Image

        from ..golden.backbone import letterbox, preprocess

        if kept:
            for x in kept:
                yield x.float()
            return
        for s in range(0, len(paths), bs):
            pix = []
            for p in paths[s : s + bs]:
                try:
                    with Image.open(p) as im:
                        pix.append(letterbox(im, resolution)[0])
                except OSError as e:
                    raise VitgatesError(f"{p}: cannot read image ({e})") from None
            x = preprocess(np.stack(pix))
            if keep:
                kept.append(x.half())
            yield x

    return batches


def _progress(what: str):
    """A callback ``(done, total)`` that prints every tenth of the way."""

    def report(done, total):
        if done == total or done % max(1, total // 10) == 0:
            print(f"{what}: {done}/{total}", flush=True)

    return report


def _calibration(args):
    from ..golden.backbone import preprocess
    from ..golden.backbone_reduce import CalibrationSet, tensor_set

    if args.n < 2:
        raise VitgatesError("-n must be at least 2")
    if args.images:
        from ..features.extract import coco_items

        if not args.ann:
            raise VitgatesError("--images needs --ann (the COCO annotation file: labels)")
        items = coco_items(args.ann, args.images)[: args.n]
        labels = np.asarray([it.person for it in items], bool)
        return CalibrationSet(_file_batches([it.path for it in items], args.resolution,
                                            args.batch_size, keep=True), labels,
                              f"{args.images} ({len(items)} images)", False)
    from ..features.synthetic import image_dataset

    if args.synthetic_size < 16 or args.synthetic_size % 16:
        raise VitgatesError(f"--synthetic-size must be a positive multiple of 16, got "
                            f"{args.synthetic_size}")
    ds = image_dataset(args.n, args.synthetic_size, args.seed)
    return tensor_set(preprocess(ds.pixels), ds.person, ds.label, synthetic=True,
                      batch_size=args.batch_size)


def _classifier(args, model, cal):
    from ..golden.backbone_reduce import fit_classifier
    from ..golden.person_float import FloatPersonClassifier

    if args.classifier:
        import json

        try:
            d = json.loads(open(args.classifier).read())
            d.pop("format", None)
            d.pop("version", None)
            clf = FloatPersonClassifier(**d)
        except (OSError, ValueError, TypeError) as e:
            raise VitgatesError(f"{args.classifier}: not a float person classifier "
                                f"({type(e).__name__})") from None
        if clf.feature_dim != model.embed_dim:
            raise VitgatesError(f"{args.classifier}: made for {clf.feature_dim}-d features, "
                                f"the backbone has {model.embed_dim}")
        return clf, args.classifier
    return fit_classifier(model, cal, args.pool), "discovered on the calibration set"


def _setup(args):
    import torch

    torch.manual_seed(args.seed)
    dev = _device(args.device)
    model, random = _model(args, dev)
    cal = _calibration(args)
    clf, clf_src = _classifier(args, model, cal)
    tag = " [synthetic]" if cal.synthetic or random else ""
    base = {"backbone": args.weights or f"random {args.arch} (stand-in, no weights)",
            "arch": model.arch, "calibration": cal.label, "n": len(cal),
            "synthetic": bool(cal.synthetic or random), "classifier": clf_src,
            "pool": args.pool, "device": dev}
    return model, cal, clf, tag, base, dev


def _slice(args) -> int:
    import torch

    from ..golden.backbone_reduce import (
        SlicedPersonBackbone,
        count_params,
        pooled_features,
        write_report,
    )

    model, cal, clf, tag, base, dev = _setup(args)
    sliced = SlicedPersonBackbone(model, clf, args.pool)
    full_s, sliced_s = [], []
    with torch.no_grad():
        for x in cal.batches():
            x = x.to(dev)
            p = pooled_features(model, x, args.pool).double()
            full_s.append((p[:, clf.pos_dims].sum(1) - p[:, clf.neg_dims].sum(1)
                           - clf.threshold).cpu().numpy())
            sliced_s.append(sliced(x).cpu().numpy())
    f, s = np.concatenate(full_s), np.concatenate(sliced_s)
    from ..golden.person_float import f1_score

    agree = float(((f > 0) == (s > 0)).mean())
    out = {**base, "stage": 1, "outputs": sliced.n_outputs(), "params": count_params(model),
           "max_score_diff": float(np.abs(f - s).max()), "decision_agreement": agree,
           "f1_full": round(f1_score(f > 0, cal.labels)[0], 4),
           "f1_sliced": round(f1_score(s > 0, cal.labels)[0], 4)}
    md = [f"# Backbone stage 1: output-channel slicing{tag}", "",
          f"- backbone: {base['backbone']}; calibration: {cal.label}",
          f"- outputs: {out['outputs']} of {model.embed_dim} dims, classifier fused "
          "(score > 0)", f"- F1 full {out['f1_full']}, sliced {out['f1_sliced']}; "
          f"decisions agree on {agree:.2%}; max |score diff| {out['max_score_diff']:.3g}"]
    j, _ = write_report("backbone-slice", out, md, build_root())
    print(f"stage 1{tag}: F1 full {out['f1_full']} sliced {out['f1_sliced']}, decisions "
          f"agree {agree:.2%} (max |Δscore| {out['max_score_diff']:.2g}); wrote {j}")
    return 0


def _curve_md(curve, what):
    lines = [f"| {what} removed | F1 | removed |", "|---|---|---|"]
    lines += [f"| {c['k']} | {c['f1']:.4f} | {c['removed'] if c['removed'] is not None else '—'}"
              " |" for c in curve]
    return lines


def _heads(args) -> int:
    import torch

    from ..golden.backbone_reduce import (
        count_params,
        masked_heads,
        prune_heads,
        remove_heads,
        save_reduced,
        write_report,
    )

    model, cal, clf, tag, base, dev = _setup(args)
    res = prune_heads(model, cal, clf, args.k, pool=args.pool, mode=args.mode,
                      progress=_progress(f"head ablation{tag}"))
    best = res["best"]
    out = {**base, "stage": 2, "params": count_params(model), **res}
    md = [f"# Backbone stage 2: attention-head pruning{tag}", "",
          f"- backbone: {base['backbone']}; calibration: {cal.label}; mode {args.mode}",
          f"- best: F1 {best['f1']:.4f} at K={best['k']} heads "
          f"({best['params_masked']:,} parameters masked)", "", *_curve_md(res["curve"], "heads")]
    if args.output:
        n_rm = best["k"] if args.remove is None else args.remove
        if not 0 <= n_rm <= args.k:
            raise VitgatesError(f"--remove must be 0..{args.k} (-k), got {n_rm}")
        best = {**best, "k": n_rm, "f1": res["curve"][n_rm]["f1"]}
        heads = [tuple(h) for h in res["order"][: best["k"]]]
        small = remove_heads(model, heads)
        diff = 0.0
        with torch.no_grad(), masked_heads(model, heads):
            for x in cal.batches():
                x = x.to(dev)
                a = model.forward_features(x)["x_norm_patchtokens"]
                b = small.forward_features(x)["x_norm_patchtokens"]
                diff = max(diff, float((a - b).abs().max()))
        save_reduced(small, args.output, {"stage": "2b", "removed_heads": res["order"][
            : best["k"]], "f1": best["f1"]})
        out["removal"] = {"output": str(args.output), "heads_removed": best["k"],
                          "params_before": count_params(model),
                          "params_after": count_params(small),
                          "max_abs_diff_vs_masked": diff}
        md += ["", "## Stage 2b: structural removal", "",
               f"- {best['k']} heads removed: {count_params(model):,} → "
               f"{count_params(small):,} parameters; max |Δ| against the masked model "
               f"{diff:.3g}; saved {args.output}"]
    j, _ = write_report("backbone-heads", out, md, build_root())
    print(f"stage 2{tag}: F1 {res['curve'][0]['f1']:.4f} -> {best['f1']:.4f} at K={best['k']}"
          f"; wrote {j}")
    return 0


def _blocks(args) -> int:
    from ..golden.backbone_reduce import (
        count_params,
        drop_blocks,
        prune_blocks,
        save_reduced,
        write_report,
    )

    model, cal, clf, tag, base, _ = _setup(args)
    res = prune_blocks(model, cal, clf, args.k, pool=args.pool, mode=args.mode,
                       progress=_progress(f"block ablation{tag}"))
    best = res["best"]
    out = {**base, "stage": 3, "params": count_params(model), **res}
    md = [f"# Backbone stage 3: depth reduction{tag}", "",
          f"- backbone: {base['backbone']}; calibration: {cal.label}; mode {args.mode}",
          f"- best: F1 {best['f1']:.4f} at K={best['k']} blocks", "",
          *_curve_md(res["curve"], "blocks")]
    if args.output:
        small = drop_blocks(model, res["order"][: best["k"]])
        save_reduced(small, args.output, {"stage": "3", "dropped": res["order"][: best["k"]]})
        out["removal"] = {"output": str(args.output), "params_after": count_params(small)}
        md += ["", f"- saved {args.output} ({count_params(small):,} parameters)"]
    j, _ = write_report("backbone-blocks", out, md, build_root())
    print(f"stage 3{tag}: F1 against blocks removed "
          f"{[c['f1'] for c in res['curve']]}; wrote {j}")
    return 0


def _student(args) -> int:
    import torch

    from ..golden.backbone_reduce import write_report
    from ..golden.student import (
        PRESETS,
        STAGES,
        StudentConfig,
        build_student,
        calibrate_student,
        save_student,
        student_params,
        train_student,
    )

    model, cal, clf, tag, base, dev = _setup(args)
    preset, dcfg = STAGES[args.stage]
    scfg = PRESETS[args.preset or preset]
    over = {k: v for k, v in (("width", args.width), ("depth", args.depth),
                              ("heads", args.heads)) if v is not None}
    if over:
        scfg = StudentConfig(**{**scfg.__dict__, **over})
    if scfg.out_dim != 40:
        scfg = StudentConfig(**{**scfg.__dict__, "out_dim": model.embed_dim})
    steps = args.steps or (200 if cal.synthetic else 20000)
    from dataclasses import replace

    dcfg = replace(dcfg, steps=steps, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    student = build_student(scfg, clf, seed=args.seed)
    if args.train_images:
        from ..features.extract import folder_items

        paths = [it.path for it in folder_items(args.train_images)]

        def batches(epoch):
            # a new order each epoch, the same for the same (seed, epoch): resumable
            order = np.random.default_rng([args.seed, epoch]).permutation(len(paths))
            yield from _file_batches([paths[i] for i in order], args.resolution,
                                     args.batch_size)()
    else:
        def batches(epoch):
            xs = list(cal.batches())
            g = torch.Generator().manual_seed(args.seed * 1000 + epoch)
            x = torch.cat(xs)
            perm = torch.randperm(len(x), generator=g)
            for s in range(0, len(x), args.batch_size):
                yield x[perm[s : s + args.batch_size]]
    before = calibrate_student(student.to(dev), model, cal, clf, args.pool)
    summary = train_student(student, model, batches, dcfg, pool=args.pool,
                            checkpoint=args.checkpoint, device=dev, progress=True,
                            log=lambda s: print(f"student{tag}: {s}"))
    cal_r = calibrate_student(student, model, cal, clf, args.pool)
    save_student(student, args.output, {"stage": args.stage, "calibration": cal_r,
                                        "teacher": base["backbone"]})
    out = {**base, "stage": args.stage, "student": scfg.__dict__,
           "student_params": student_params(scfg), "distill": dcfg.__dict__,
           "train": summary, "before": before, "after": cal_r, "output": str(args.output)}
    md = [f"# Backbone stage {args.stage}: specialist student{tag}", "",
          f"- teacher: {base['backbone']}; data: {cal.label}",
          f"- student: width {scfg.width}, depth {scfg.depth}, heads {scfg.heads}, "
          f"out {scfg.out_dim}: {student_params(scfg):,} parameters",
          f"- losses: dims {dcfg.dims}, cosine {dcfg.cosine}, scalar {dcfg.scalar}; "
          f"{summary['steps']} steps",
          f"- student F1 {cal_r['student_f1']} at threshold {cal_r['student_threshold']:.4g}"
          f" (teacher F1 {cal_r['teacher_f1']} at {cal_r['teacher_threshold_refit']:.4g})",
          f"- agreement with the teacher's decisions: {cal_r['agreement_teacher_threshold']}"
          f" (before training {before['agreement_teacher_threshold']}, chance "
          f"{cal_r['chance_agreement']})"]
    j, _ = write_report(f"backbone-student-{args.stage}", out, md, build_root())
    print(f"stage {args.stage}{tag}: student F1 {cal_r['student_f1']}, agreement "
          f"{cal_r['agreement_teacher_threshold']} (chance {cal_r['chance_agreement']}); "
          f"wrote {args.output} and {j}")
    return 0


def run(args) -> int:
    np.seterr(over="ignore")
    return {"slice": _slice, "heads": _heads, "blocks": _blocks,
            "student": _student}[args.action](args)
