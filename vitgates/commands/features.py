"""``vitgates features``: extract features into a cache, write the synthetic world as a cache,
or inspect and verify a cache.

::

    vitgates features extract --weights eupe_vitb16.pth --images DIR [--coco-ann FILE] \\
        --out cache/val2017-640 [--resolution 640] [--kinds pooled,grid]
    vitgates features synth --out cache/synthetic [--kind pooled|grid] [--seed 0]
    vitgates features inspect cache/val2017-640 [--verify]

Only ``extract`` needs PyTorch.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import VitgatesError
from ..features.cache import FeatureCache
from ..features.extract import coco_items, extract, folder_items
from ..features.synthetic import write_synthetic_cache

__all__ = ["configure_parser", "run"]


def configure_parser(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("extract", help="run the backbone over images into a feature cache",
                       description="Run the frozen EUPE backbone over a folder of images or "
                       "a COCO split and write pooled features and/or stride-16 grids into "
                       "a sharded cache. Resumes an interrupted run in the same folder.")
    p.add_argument("--weights", required=True, help="official EUPE checkpoint (.pth or "
                   ".safetensors)")
    p.add_argument("--arch", choices=("vitt16", "vits16", "vitb16"), default=None,
                   help="backbone (default: inferred from the checkpoint)")
    p.add_argument("--images", required=True, help="image folder")
    p.add_argument("--coco-ann", help="COCO annotation file of the images (adds person "
                   "labels; without it every image file in the folder is used)")
    p.add_argument("--out", required=True, help="cache folder (created or resumed)")
    p.add_argument("--resolution", type=int, default=640, help="letterbox size, 640 or 768")
    p.add_argument("--kinds", default="pooled,grid", help="pooled, grid or pooled,grid")
    p.add_argument("--pool", choices=("mean", "cls"), default="mean",
                   help="pooled feature: mean of patch tokens (default) or class token")
    p.add_argument("--grid-dtype", choices=("float16", "float32"), default="float16")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--shard-size", type=int, default=64, help="images per shard")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--limit", type=int, default=None, help="only the first N images")

    p = sub.add_parser("synth", help="write the synthetic feature world as a cache",
                       description="Write the deterministic SYNTHETIC data set as a feature "
                       "cache: pooled features with person labels, or feature grids with a "
                       "COCO annotation file (annotations.json) beside the shards.")
    p.add_argument("--out", required=True, help="cache folder")
    p.add_argument("--kind", choices=("pooled", "grid"), default="pooled")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-n", type=int, default=None,
                   help="number of images (default 5000 pooled, 64 grids)")
    p.add_argument("--shard-size", type=int, default=None)

    p = sub.add_parser("inspect", help="summarise and check a cache (--verify: checksums)")
    p.add_argument("cache", help="cache folder")
    p.add_argument("--verify", action="store_true", help="check every shard's SHA-256")


def run(args) -> int:
    if args.action == "inspect":
        cache = FeatureCache.open(args.cache)
        if args.verify:
            cache.verify()
        else:
            cache.check()
        print(f"{args.cache}: {cache.describe()}; shards "
              + ("verified (SHA-256)" if args.verify else "present, sizes and headers checked"))
        return 0
    if args.action == "synth":
        cache = write_synthetic_cache(args.out, args.kind, args.seed, args.n, args.shard_size)
        print(f"wrote {args.out}: {cache.describe()}")
        return 0
    if args.action == "extract":
        kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
        if args.coco_ann:
            items = coco_items(args.coco_ann, args.images)
            dataset = f"COCO {Path(args.coco_ann).stem}"
        else:
            items = folder_items(args.images)
            dataset = f"images {Path(args.images).name}"
        if args.limit is not None:
            items = items[: args.limit]
        missing = [it.path for it in items if not it.path.is_file()]
        if missing:
            raise VitgatesError(f"{missing[0]}: image file missing ({len(missing)} in all)")
        from ..golden.backbone import load_eupe  # torch: only `extract` needs it

        model = load_eupe(args.weights, args.arch)
        cache = extract(items, args.out, model=model, backbone=f"eupe_{model.arch}",
                        resolution=args.resolution, kinds=kinds, pool=args.pool,
                        grid_dtype=args.grid_dtype, batch_size=args.batch_size,
                        shard_size=args.shard_size, device=args.device, dataset=dataset)
        print(f"wrote {args.out}: {cache.describe()}")
        return 0
    raise AssertionError(args.action)
