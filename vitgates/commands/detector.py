"""``vitgates detector-head``: check an INT8 detector weight file, or convert a float
detection head (``vitgates train detector``) into one.

::

    vitgates detector-head check detector-head.safetensors
    vitgates detector-head convert detector-float.safetensors --feature-scale S -o FILE
"""

from ..golden.detector import head_from_handover
from ..golden.detector_float import FloatDetectorHead, handover
from ..golden.detector_head import DetectorHeadError, load_head, save_head

__all__ = ["configure_parser", "run"]


def configure_parser(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = sub.add_parser("check", help="validate an INT8 detector weight file and summarise it")
    c.add_argument("file")
    v = sub.add_parser("convert", help="convert a float detection head (safetensors, "
                                       "vitgates train) to an INT8 weight file")
    v.add_argument("float_head")
    v.add_argument("--feature-scale", type=float, required=True,
                   help="real value of one INT8 feature step")
    v.add_argument("--score-thresh", type=float, default=0.05,
                   help="score cut the thresholds encode (default 0.05)")
    v.add_argument("-o", "--output", required=True)


def run(args) -> int:
    if args.action == "check":
        head = load_head(args.file)
        synthetic = " (synthetic)" if head.meta.get("synthetic") else ""
        print(f"{args.file}: ok{synthetic}: {head.summary()}")
        return 0
    fh = FloatDetectorHead.load(args.float_head)
    try:
        head = head_from_handover(handover(fh, args.feature_scale), args.score_thresh)
    except ValueError as e:
        raise DetectorHeadError(f"{args.float_head}: {e}") from None
    out = save_head(head, args.output)
    print(f"wrote {out}: {head.summary()}")
    return 0
