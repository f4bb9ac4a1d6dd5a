"""``vitgates person-config``: check a person-classifier config, derive one from a float
classifier, or fit one on the synthetic pooled set.

::

    vitgates person-config check person.json
    vitgates person-config derive person-float.json -o person.json
    vitgates person-config fit -o person.json [--seed 0] [--gate-weight 5e-5]
"""

from ..golden.person import derive_config_file, fit_synthetic_config
from ..golden.person_config import load_person_config, save_person_config

__all__ = ["configure_parser", "run"]


def configure_parser(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("check", help="validate a config file and summarise it")
    p.add_argument("config", help="person-classifier config (JSON)")
    p = sub.add_parser(
        "derive",
        help="derive the integer config from a float classifier",
        description="Derive the integer config (T, INT8 thresholds, K) from a float "
        "classifier file: JSON with pos_dims, neg_dims, threshold, scale and optionally "
        "dim_thresholds (floats) and K.",
    )
    p.add_argument("float_classifier", help="float classifier (JSON)")
    p.add_argument("-o", "--output", required=True, help="where to write the integer config")
    p = sub.add_parser(
        "fit",
        help="fit a config on labelled pooled features (default: the synthetic set)",
    )
    p.add_argument("-o", "--output", required=True, help="where to write the config")
    p.add_argument("--seed", type=int, default=0, help="synthetic data seed (default 0)")
    p.add_argument(
        "--gate-weight",
        type=float,
        default=5e-5,
        help="F1 traded per gate when fitting the popcount thresholds (default 5e-5; "
        "0 fits F1 alone)",
    )


def run(args) -> int:
    if args.action == "check":
        cfg = load_person_config(args.config)
        print(
            f"{args.config}: ok: {len(cfg.pos_dims)}+{len(cfg.neg_dims)} dims of "
            f"{cfg.feature_dim}, scale {cfg.scale:g}, T {cfg.T}, K {cfg.K}"
        )
        return 0
    if args.action == "derive":
        cfg = derive_config_file(args.float_classifier)
        save_person_config(cfg, args.output)
        print(f"wrote {args.output}")
        return 0
    if args.action == "fit":
        cfg = fit_synthetic_config(seed=args.seed, gate_weight=args.gate_weight)
        save_person_config(cfg, args.output)
        src = cfg.source
        print(
            f"wrote {args.output} (synthetic data: F1 sumdiff {src['f1_sumdiff_int8']:.3f}, "
            f"popcount {src['f1_popcount_int8']:.3f})"
        )
        return 0
    raise AssertionError(args.action)
