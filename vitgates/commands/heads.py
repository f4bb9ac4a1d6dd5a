"""``vitgates heads``: the detection heads of seed 002 (split-tower and FCOS).

::

    vitgates heads train --head split-tower|fcos [--cache DIR --ann FILE] [--embeddings F]
                         [--steps N] [--calib-steps N] [--checkpoint F] -o head.safetensors
    vitgates heads eval  --head ... --weights head.safetensors [--cache DIR --ann FILE]
                         [--soft-nms]
    vitgates heads params

Without ``--cache`` they run on the synthetic grid world (and say so). Reports:
``<build>/reports/heads-<action>[-<head>].{json,md}``. The work is in
:mod:`vitgates.golden.split_tower`, :mod:`vitgates.golden.fcos` and
:mod:`vitgates.golden.head_train`.
"""

from __future__ import annotations

import json

from ..errors import VitgatesError
from ..fileio import atomic_write_json, atomic_write_text
from ..paths import build_root

__all__ = ["configure_parser", "run"]

HEADS = ("split-tower", "fcos")


def _data(p) -> None:
    p.add_argument("--head", choices=HEADS, default="split-tower")
    p.add_argument("--cache", help="feature cache with 'grid' arrays (default: synthetic)")
    p.add_argument("--ann", help="COCO annotation file of the cache's images")
    p.add_argument("--eval-cache", help="evaluation cache (default: --cache)")
    p.add_argument("--eval-ann", help="annotation file of --eval-cache")
    p.add_argument("--embeddings", help="class-name embeddings [80, D] (.npy/.pt/"
                   ".safetensors); default: the deterministic stand-in")
    p.add_argument("--hidden", type=int, default=None, help="split-tower width (160) / "
                   "FCOS channels (256)")
    p.add_argument("--images", type=int, default=32, help="synthetic training images")
    p.add_argument("--eval-images", type=int, default=16, help="synthetic held-out images")
    p.add_argument("--grid", type=int, default=16, help="synthetic grid side (default 16)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--soft-nms", action="store_true", help="linear soft-NMS as well")


def configure_parser(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("train", help="train a head with the seed's recipe, then evaluate",
                       description="ATSS, flip, EMA, PC init (split-tower), optional "
                       "partial calibration fine-tune, pycocotools evaluation; resumable.")
    _data(p)
    p.add_argument("--steps", type=int, default=None, help="default 104000 (real), 60 "
                   "(synthetic)")
    p.add_argument("--calib-steps", type=int, default=0, help="partial calibration "
                   "fine-tune steps after training (seed: 3 epochs)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ema-decay", type=float, default=0.9998)
    p.add_argument("--checkpoint", help="resume from / save to this file")
    p.add_argument("-o", "--output", required=True, help="head weights (.safetensors)")
    p = sub.add_parser("eval", help="evaluate saved head weights with pycocotools",
                       description="Evaluate a head written by 'heads train' (its class "
                       "embeddings travel in the file; --embeddings is not needed).")
    _data(p)
    p.add_argument("--weights", required=True, help="a file written by 'heads train'")
    sub.add_parser("params", help="each head's exact parameter count beside the seed's")


def _device(name):
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise VitgatesError("--device cuda: no CUDA device here")
    if name != "cpu" and not name.startswith("cuda"):
        raise VitgatesError(f"--device must be auto, cpu or cuda, got {name!r}")
    return name


def _build(kind: str, hidden, embeddings=None, in_dim: int = 768):
    from ..golden.fcos import FCOSHead
    from ..golden.split_tower import SplitTowerHead, class_embeddings

    if hidden is not None and (hidden < 8 or hidden % 8):
        raise VitgatesError(f"--hidden must be a positive multiple of 8 (GroupNorm), got "
                            f"{hidden}")
    if kind == "fcos":
        return FCOSHead(in_dim=in_dim, ch=hidden or 256), "none (learned classes)"
    e, src = class_embeddings(embeddings)
    return SplitTowerHead(e, in_dim=in_dim, hidden=hidden or 160), src


def _sources(args):
    from ..golden.detector_train import cache_source, synthetic_source

    if args.cache:
        from ..features.cache import FeatureCache

        if not args.ann:
            raise VitgatesError("--cache needs --ann (the COCO annotation file of its images)")
        cache = FeatureCache.open(args.cache)
        if "grid" not in cache.arrays:
            raise VitgatesError(f"{args.cache}: the cache has no 'grid' array")
        ecache = FeatureCache.open(args.eval_cache) if args.eval_cache else cache
        return cache_source(cache, args.ann), cache_source(ecache, args.eval_ann or args.ann)
    from ..features.synthetic import grid_dataset

    if args.grid % 8:
        raise VitgatesError(f"--grid must be a multiple of 8, got {args.grid}")
    ds = grid_dataset(args.images + args.eval_images, args.seed, grid_hw=(args.grid,
                                                                          args.grid))
    return (synthetic_source(ds, ds.image_ids[: args.images]),
            synthetic_source(ds, ds.image_ids[args.images :]))


def _save(head, path, meta):
    from safetensors.torch import save

    from ..fileio import atomic_write_bytes

    sd = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    atomic_write_bytes(path, save(sd, metadata={"format": "vitgates-detection-head",
                                                "meta": json.dumps(meta)}))


def _load(path):
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
            sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as e:
        raise VitgatesError(f"{path}: not a readable head file ({type(e).__name__})") from None
    if md.get("format") != "vitgates-detection-head":
        raise VitgatesError(f"{path}: not a detection head file")
    return sd, json.loads(md["meta"])


def _report(name, data, md):
    rep = build_root() / "reports"
    atomic_write_json(rep / f"{name}.json", data)
    atomic_write_text(rep / f"{name}.md", "\n".join(md) + "\n")
    return rep / f"{name}.json"


def _eval_lines(tag, r):
    return (f"mAP {r['map']:.4f} mAP50 {r['map50']:.4f} mAP75 {r['map75']:.4f} "
            f"({r['nms']} NMS, {r['n_images']} images of {r['dataset']}){tag}")


def _train(args) -> int:
    import torch

    from ..golden.head_train import HeadTrainConfig, calibrate_head, evaluate, train_detection_head

    dev = _device(args.device)
    torch.manual_seed(args.seed)
    train, test = _sources(args)
    tag = " [synthetic]" if train.synthetic else ""
    head, emb_src = _build(args.head, args.hidden, args.embeddings)
    if args.head == "split-tower":
        head.pc_init()
    steps = args.steps or (60 if train.synthetic else 104000)
    bs = args.batch_size or (8 if train.synthetic else 16)
    cfg = HeadTrainConfig(steps=steps, batch_size=bs, lr=args.lr, ema_decay=args.ema_decay,
                          seed=args.seed)
    ema, summary = train_detection_head(head, train, cfg, checkpoint=args.checkpoint,
                                        device=dev, progress=True,
                                        log=lambda s: print(f"{args.head}{tag}: {s}"))
    result = {"pre_calibration": evaluate(ema, test, device=dev)}
    if args.calib_steps:
        ck = f"{args.checkpoint}.calib" if args.checkpoint else None
        ema, csum = calibrate_head(ema, train, args.calib_steps, batch_size=bs, device=dev,
                                   seed=args.seed, checkpoint=ck)
        summary["calibration"] = {"steps": csum["steps"], "history": csum["history"][-5:]}
        result["calibrated"] = evaluate(ema, test, device=dev)
    final = result.get("calibrated", result["pre_calibration"])
    if args.soft_nms:
        result["soft_nms"] = evaluate(ema, test, soft=True, device=dev)
    n_params = sum(p.numel() for p in ema.parameters())
    meta = {"head": args.head, "config": ema.config, "params": n_params,
            "embeddings": emb_src, "eval": result, "steps": summary["steps"]}
    _save(ema, args.output, meta)
    hist = summary["history"]
    data = {"head": args.head, "params": n_params, "embeddings": emb_src,
            "synthetic": train.synthetic, "train": train.label, "eval_data": test.label,
            "steps": summary["steps"], "first_loss": hist[0] if hist else None,
            "final_loss": hist[-1] if hist else None, **result, "output": str(args.output)}
    md = [f"# Detection head {args.head}{tag}", "", f"- {n_params:,} parameters; "
          f"class embeddings: {emb_src}", f"- train: {train.label}, {summary['steps']} steps"]
    md += [f"- {k}: {_eval_lines('', r)}" for k, r in result.items()]
    j = _report(f"heads-train-{args.head}", data, md)
    print(f"{args.head}{tag}: {_eval_lines('', final)}; wrote {args.output} and {j}")
    return 0


def _eval(args) -> int:
    from ..golden.head_train import evaluate

    dev = _device(args.device)
    sd, meta = _load(args.weights)
    if meta.get("head") != args.head:
        raise VitgatesError(f"{args.weights}: holds a {meta.get('head')} head, not "
                            f"{args.head}")
    cfg = meta["config"]
    from ..golden.fcos import FCOSHead
    from ..golden.split_tower import SplitTowerHead

    if args.head == "fcos":
        head = FCOSHead(in_dim=cfg["in_dim"], ch=cfg["channels"], n_tower=cfg["n_tower"],
                        mid=cfg.get("mid"))
    elif "text_embed" not in sd:
        raise VitgatesError(f"{args.weights}: no class embeddings in the file")
    else:  # the file holds the class embeddings it was trained with
        head = SplitTowerHead(sd["text_embed"].numpy(), in_dim=cfg["in_dim"],
                              hidden=cfg["hidden"], n_conv=cfg["n_conv"], n_dw=cfg["n_dw"])
    try:
        head.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise VitgatesError(f"{args.weights}: does not fit the head "
                            f"({str(e).splitlines()[0][:100]})") from None
    _, test = _sources(args)
    tag = " [synthetic]" if test.synthetic else ""
    res = {"hard": evaluate(head, test, device=dev)}
    if args.soft_nms:
        res["soft"] = evaluate(head, test, soft=True, device=dev)
    j = _report(f"heads-eval-{args.head}", {"head": args.head, "weights": str(args.weights),
                                            **res},
                [f"# Detection head {args.head} evaluation{tag}", ""]
                + [f"- {_eval_lines('', r)}" for r in res.values()])
    for r in res.values():
        print(f"{args.head}{tag}: {_eval_lines('', r)}")
    print(f"wrote {j}")
    return 0


def _params(args) -> int:
    from ..golden import fcos, split_tower

    rows = []
    for kind, seed in (("split-tower", split_tower.SEED_PARAMS), ("fcos", fcos.SEED_PARAMS)):
        head, _ = _build(kind, None)
        parts = {n: sum(p.numel() for p in m.parameters()) for n, m in head.named_children()}
        own = [n for n, _ in head.named_parameters() if "." not in n]
        parts.update({n: getattr(head, n).numel() for n in own})
        total = sum(p.numel() for p in head.parameters())
        rows.append({"head": kind, "params": total, "seed": seed, "difference": total - seed,
                     "parts": parts})
    md = ["# Detection head parameters", "", "| head | here | seed 002 | difference |",
          "|---|---|---|---|"]
    md += [f"| {r['head']} | {r['params']:,} | {r['seed']:,} | {r['difference']:+,} |"
           for r in rows]
    for r in rows:
        md += ["", f"## {r['head']}", "", "| part | parameters |", "|---|---|"]
        md += [f"| {k} | {v:,} |" for k, v in r["parts"].items()]
    j = _report("heads-params", {"heads": rows}, md)
    for r in rows:
        print(f"{r['head']}: {r['params']:,} parameters (seed 002: {r['seed']:,}, "
              f"{r['difference']:+,})")
    print(f"wrote {j}")
    return 0


def run(args) -> int:
    return {"train": _train, "eval": _eval, "params": _params}[args.action](args)
