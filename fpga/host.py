"""``vitgates host``: stream pooled features to a board over its UART and collect decisions.

The board runs the ``board`` bitstream (``vitgates synth --design board``, ``vitgates
flash``). The client speaks the link of docs/link.md through pyserial, so ``--port`` is a
device (``/dev/ttyUSB1``: the iCEBreaker's second FTDI channel, the ULX3S's only one) or any
pyserial URL (``socket://host:port``: the simulated board of ``tests/test_host.py``).

It reads INFO (and refuses a board whose baked config is not the one it compares against),
streams every image as a CLASSIFY frame with as many frames in flight as the board has
slots, reads STATUS before and after, and writes ``regress-board-<form>.{json,md}`` in the
schema of ``vitgates regress`` (docs/reports.md): the float and INT8 levels computed here,
the board as level ``board``, ``agreement_with_int8`` of the board against the golden INT8
model, with throughput and the board's error counters beside them. The exit status is 1
when a board decision differs from the INT8 model.

``--design detector`` runs the cofiber detector of the same bitstream instead, on the data
and heads of ``vitgates regress``: the grids of a feature cache (``--features``,
``--annotations``) or the synthetic grid world (SYNTHETIC) at the board's grid, the float
head (``--detector-float``, or fitted in closed form on synthetic data) and its INT8 head
(``--detector-head``, or quantised) with thresholds for ``--score-thresh``. It loads the head
(DET_WEIGHTS, DET_THRESHOLDS), streams the quantised grids as DET_GRID frames, collects the
DETECTIONS and FRAME_DONE packets, compares every record with the golden INT8 detector
(:func:`~vitgates.golden.detector.ref_detect`, field by field and in order) and decodes them
for pycocotools mAP: ``regress-board-detector.{json,md}`` has the levels float, INT8 and
board of ``regress-detector.json``. The board's shape comes from INFO; a board without box
rows gets the head's class rows alone (records, no mAP); any other difference between the
data, the head and the board is one error line naming both. A board the grid world cannot
feed (the small simulated one) without ``--features`` or a head runs a random INT8 head on
random grids (SYNTHETIC, ``"mode": "random head"``: records only, no mAP).
"""

from __future__ import annotations

import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import VitgatesError
from ..golden.link import (
    MAX_PAYLOAD,
    Deframer,
    DetectorShape,
    Error,
    LinkError,
    Packet,
    Type,
    encode_frame,
    frame_bytes,
    link_images_per_second,
    parse_info,
    parse_status,
    person_config_id,
)
from ..regress.detector import add_head_options
from ..regress.report import Check, LevelRun, Regression, identical_check

__all__ = ["BoardLink", "BoardRegression", "open_port", "run_host", "run_host_detector",
           "write", "configure_parser", "run"]

#: packets the board sends unprompted: the detector's records
DET_PACKETS = (Type.DETECTIONS, Type.FRAME_DONE)

DEFAULT_BAUD = 3_000_000


def open_port(port: str, baud: int = DEFAULT_BAUD):
    """A pyserial port (device or URL) with a short read timeout."""
    import serial

    try:
        s = serial.serial_for_url(port, baudrate=baud, timeout=0.05, write_timeout=10)
    except (serial.SerialException, ValueError, OSError) as e:
        raise VitgatesError(f"cannot open {port}: {e}") from None
    return s


class BoardLink:
    """The host side of the link over a pyserial-like ``port`` (``read``, ``write``).

    ``timeout``: seconds to wait for a reply before giving up (a real board answers within
    milliseconds; the simulated one needs more).
    """

    def __init__(self, port, *, timeout: float = 2.0, name: str = "the board"):
        self.port = port
        self.timeout = timeout
        self.name = name
        self.deframer = Deframer(max_payload=MAX_PAYLOAD)
        self.received: deque = deque()
        self.detections: list = []  # DETECTIONS and FRAME_DONE packets, in order
        self.rx_errors: list = []  # frames from the board that failed their checks
        self.seq = 0
        self.bytes_sent = 0
        self.bytes_received = 0

    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFF
        return self.seq

    def send(self, type_: int, payload: bytes = b"") -> int:
        seq = self._next_seq()
        frame = encode_frame(type_, seq, payload)
        self.port.write(frame)
        self.bytes_sent += len(frame)
        return seq

    def _read(self, deadline: float) -> float:
        """Read what the port has; return the new deadline (raise past the old one)."""
        data = self.port.read(4096)
        if data:
            self.bytes_received += len(data)
            for ev in self.deframer.feed(data):
                if isinstance(ev, LinkError):
                    if ev.code != Error.BAD_MAGIC:
                        self.rx_errors.append(ev)
                elif ev.type in DET_PACKETS:
                    self.detections.append(ev)
                else:
                    self.received.append(ev)
            return time.monotonic() + self.timeout
        if time.monotonic() > deadline:
            raise VitgatesError(
                f"no reply from {self.name} within {self.timeout:g} s (is it programmed "
                "with the board design? `vitgates flash --board B`)")
        return deadline

    def receive(self) -> Packet:
        """The next reply from the board (frames that fail their checks are counted in
        :attr:`rx_errors` and skipped; the detector's packets go to :attr:`detections`)."""
        deadline = time.monotonic() + self.timeout
        while not self.received:
            deadline = self._read(deadline)
        return self.received.popleft()

    def frames_done(self) -> int:
        return sum(p.type == Type.FRAME_DONE for p in self.detections)

    def wait_frames_done(self, n: int):
        """Read until ``n`` FRAME_DONE packets have arrived in all."""
        deadline = time.monotonic() + self.timeout
        while self.frames_done() < n:
            deadline = self._read(deadline)

    def stream(self, frames, *, window: int = 2) -> list[Packet]:
        """Send ``frames`` ((type, payload) pairs) with ``window`` in flight; return their
        replies, each checked to answer its frame."""
        frames = list(frames)
        out: list = []
        pending: deque = deque()
        k = 0
        while len(out) < len(frames):
            while k < len(frames) and len(pending) < window:
                t, payload = frames[k]
                pending.append((self.send(t, payload), t))
                k += 1
            seq, t = pending.popleft()
            out.append(self._expect(self.receive(), seq, t))
        return out

    def _expect(self, p: Packet, seq: int, type_: int) -> Packet:
        if p.type == Type.ERROR:
            code, t, q, _ = p.error or (0, 0, 0, 0)
            try:
                name = Error(code).name
            except ValueError:
                name = f"code {code}"
            raise VitgatesError(f"{self.name} answered frame {seq} (type 0x{type_:02x}) "
                                f"with error {name}")
        if p.seq != seq or p.type != (type_ | 0x80):
            raise VitgatesError(f"{self.name}: reply {p!r} does not answer frame {seq} "
                                f"(type 0x{type_:02x})")
        return p

    def request(self, type_: int, payload: bytes = b"") -> Packet:
        seq = self.send(type_, payload)
        return self._expect(self.receive(), seq, type_)

    def info(self):
        return parse_info(self.request(Type.INFO).payload)

    def status(self) -> dict:
        return parse_status(self.request(Type.STATUS).payload)

    def ping(self, data: bytes = b"") -> bytes:
        return self.request(Type.PING, data).payload

    def classify(self, vectors, *, window: int = 2, on_progress=None) -> np.ndarray:
        """Decisions of the board for INT8 ``vectors`` [n, feature_dim], with ``window``
        frames in flight (the board's slots)."""
        x = np.ascontiguousarray(vectors, dtype=np.int8)
        out = np.zeros(len(x), dtype=bool)
        pending: deque = deque()
        sent = 0
        done = 0
        while done < len(x):
            while sent < len(x) and len(pending) < window:
                pending.append((sent, self.send(Type.CLASSIFY, x[sent].tobytes())))
                sent += 1
            k, seq = pending.popleft()
            p = self._expect(self.receive(), seq, Type.CLASSIFY)
            if len(p.payload) != 1:
                raise VitgatesError(f"{self.name}: DECISION of {len(p.payload)} bytes")
            out[k] = bool(p.payload[0])
            done += 1
            if on_progress is not None:
                on_progress(done)
        return out


def _counter_delta(before: dict, after: dict) -> dict:
    from ..golden.link import COUNTERS

    widths = dict(COUNTERS)
    return {k: (after[k] - before[k]) % (1 << widths[k]) for k in after}


@contextmanager
def _connect(args, port=None):
    """``(link, info)`` of the board on ``port`` (an open pyserial-like port), else on
    ``args.port`` opened here and closed on the way out."""
    own = port is None
    if own:
        port = open_port(args.port, args.baud)
    try:
        link = BoardLink(port, timeout=args.timeout, name=f"the board on {args.port}")
        if hasattr(port, "reset_input_buffer"):
            port.reset_input_buffer()
        yield link, link.info()
    finally:
        if own:
            port.close()


def run_host(args, port=None) -> tuple[dict, Regression, bool]:
    """Run the board regression; return the report, the :class:`BoardRegression` and
    whether it passed. ``port``: an open pyserial-like port instead of ``args.port``."""
    from ..fpga.designs import default_person_config
    from ..golden.person import float_sumdiff, ref_popcount, ref_sumdiff, select
    from ..golden.person_config import load_person_config
    from ..golden.quant import quantize
    from ..regress.person import load_float_threshold, load_pooled, person_metrics

    cfg = load_person_config(args.config) if args.config else default_person_config()
    with _connect(args, port) as (link, info):
        if not info.person:
            raise VitgatesError(f"the board on {args.port} holds no person classifier")
        if info.config_id != person_config_id(cfg):
            raise VitgatesError(
                f"the board's classifier config (id {info.config_id.hex()}) is not "
                f"{args.config or 'the shipped config'} (id {person_config_id(cfg).hex()}): "
                "rebuild the bitstream with --config, or pass the config it was built with")
        if info.feature_dim != cfg.feature_dim:
            raise VitgatesError(f"the board takes {info.feature_dim} features, the config "
                                f"{cfg.feature_dim}")
        form = info.form
        data = load_pooled(args.features, args.annotations, args.images, args.data_seed)
        n = len(data.labels)
        q = quantize(data.features, cfg.scale)
        ref = {"popcount": ref_popcount, "sumdiff": ref_sumdiff}[form]

        title = f"person classifier ({form} form) on the board"
        reg = BoardRegression(f"board-{form}", title, data.dataset, data.synthetic, n,
                               ["f1", "precision", "recall"])
        labels = data.labels
        try:
            theta = load_float_threshold(cfg, args.person_float)
        except VitgatesError as e:
            theta = None
            print(f"float level skipped: {e}")
        if theta is not None:
            t = time.perf_counter()
            f_dec = float_sumdiff(data.features, cfg.pos_dims, cfg.neg_dims, theta)
            reg.add_level(LevelRun("float", "float (Σpos − Σneg > θ)", n,
                                   person_metrics(f_dec, labels), time.perf_counter() - t))
        t = time.perf_counter()
        i_dec = ref(select(q, cfg), cfg)
        int8 = reg.add_level(LevelRun("int8", f"INT8 ({form})", n, person_metrics(i_dec, labels),
                                      time.perf_counter() - t))
        if theta is not None:
            drop = reg.level("float").metrics["f1"] - int8.metrics["f1"]
            reg.add_check(Check("INT8 vs float", n, int(np.count_nonzero(i_dec == f_dec)),
                                f"F1 drop ≤ {args.max_metric_drop:g}",
                                drop <= args.max_metric_drop, f"F1 drop {drop:+.4f}"))

        before = link.status()
        sent0, recv0 = link.bytes_sent, link.bytes_received
        t = time.perf_counter()
        b_dec = link.classify(q, window=max(1, info.slots))
        seconds = time.perf_counter() - t
        sent, recv = link.bytes_sent - sent0, link.bytes_received - recv0
        after = link.status()
        delta = _counter_delta(before, after)
        link_ips = link_images_per_second(info.baud, info.feature_dim)
        board = reg.add_level(LevelRun(
            "board", f"board over {args.port} ({info.baud:,} baud)", n,
            person_metrics(b_dec, labels), seconds,
            extra={"bytes_sent": sent, "bytes_received": recv,
                   # the share of the host-to-board line the frames kept busy
                   "line_utilisation": round(sent * 10 / info.baud / seconds, 4)
                   if seconds > 0 else None}))
        reg.add_check(identical_check("board vs INT8", b_dec, i_dec))
        errors = {k: v for k, v in delta.items()
                  if (k.startswith("err_") or k in ("uart_framing", "uart_overrun",
                                                     "unreported")) and v}
        reg.info.update({
            "form": form,
            "port": args.port,
            "board_info": {"version": info.version, "clock_hz": info.clock_hz,
                           "baud": info.baud, "slots": info.slots,
                           "max_payload": info.max_payload, "timeout_us": info.timeout_us,
                           "config_id": info.config_id.hex()},
            "config": {k: v for k, v in cfg.to_dict().items() if k != "source"},
            "images_per_second": round(board.images_per_second, 2),
            "link_images_per_second": round(link_ips, 1),
            "frame_bytes": frame_bytes(info.feature_dim),
            "counters_before": before,
            "counters_after": after,
            "counters_delta": delta,
            "link_errors": errors,
            "host_rx_errors": len(link.rx_errors),
        })
        reg.sections += [
            "", "## Link", "",
            f"{n} CLASSIFY frames of {frame_bytes(info.feature_dim)} bytes at "
            f"{info.baud:,} baud (the line allows {link_ips:.1f} images/s): "
            f"**{board.images_per_second:.1f} images/s** measured. Errors counted by the "
            f"board during the run: {errors or 'none'}; frames from the board that failed "
            f"their checks: {len(link.rx_errors)}.",
        ]
        rep = reg.report()
        return rep, reg, reg.passed


def _det_records(shape, payloads) -> list[list[bytes]]:
    """Record payloads split into grids at each FRAME_DONE (the end record excluded)."""
    grids, cur = [], []
    for p in payloads:
        if p.type == Type.FRAME_DONE:
            grids.append(cur)
            cur = []
        else:
            cur.append(p.payload)
    return grids


def _det_array(shape, payloads) -> np.ndarray:
    """Record payloads as the golden model's structured records
    (:func:`~vitgates.golden.detector.detection_dtype`)."""
    from ..golden.detector import detection_dtype

    out = np.zeros(len(payloads), detection_dtype(shape.box_rows))
    for k, p in enumerate(payloads):
        v = shape.parse_record(p)
        for name in ("band", "y", "x", "cls", "acc"):
            out[name][k] = v[name]
        if shape.box_rows:
            out["box"][k] = v["box"]
    return out


def _shape_text(channels, n_classes, box_rows) -> str:
    return f"{channels} channels, {n_classes} classes, {box_rows} box rows"


def _board_head(h8, shape, what: str):
    """``(head, note)``: ``h8`` as the board's detector computes it. A board without box
    rows (B = 0) computes the class rows alone: the head's box rows are dropped (the class
    decisions do not depend on them). Any other difference fails."""
    import dataclasses

    have = (h8.channels, h8.n_classes, h8.box_rows)
    want = (shape.channels, shape.n_classes, shape.box_rows)
    if have == want:
        return h8, ""
    if have[:2] == want[:2] and shape.box_rows == 0:
        K = h8.n_classes
        return dataclasses.replace(h8, weight=h8.weight[:K], weight_scale=h8.weight_scale[:K],
                                   bias=h8.bias[:K]), (
            f"the board's detector has no box rows: the head's {h8.box_rows} box rows are "
            "left out, its records carry no boxes, so INT8 and board levels report no mAP")
    raise VitgatesError(f"{what} has {_shape_text(*have)}; the board's detector takes "
                        f"{_shape_text(*want)}")


def _random_mode(args, shape) -> bool:
    """Whether the board's detector is one the grid world cannot feed (a small simulated
    board) and no data or head were named: then a random head on random grids."""
    from ..features.synthetic import FEATURE_DIM
    from ..golden.detector_head import BOX_ROWS, NUM_CLASSES

    if args.features or args.detector_float or args.detector_head:
        return False
    H, W = shape.grid
    return not (shape.channels == FEATURE_DIM and shape.n_classes == NUM_CLASSES
                and shape.box_rows in (0, BOX_ROWS) and H == W and H % 4 == 0)


def _grid_data(args, shape, n: int):
    """The grids the board runs: the cache's (``--features``), else the synthetic grid world
    at the board's grid (:func:`~vitgates.features.synthetic.grid_dataset`; at 40×40 the
    grids of ``vitgates regress``)."""
    from ..regress.detector import GridData, load_grids

    if args.features:
        data = load_grids(args.features, args.annotations, n, args.data_seed)
        if tuple(data.grid_hw) != tuple(shape.grid):
            raise VitgatesError(f"{args.features}: grids of {data.grid_hw[0]}×{data.grid_hw[1]}; "
                                f"the board's detector takes {shape.grid[0]}×{shape.grid[1]}")
        return data
    from ..features.coco import coco_from_dict
    from ..features.synthetic import grid_dataset

    try:
        ds = grid_dataset(n_images=n, seed=args.data_seed, grid_hw=tuple(shape.grid))
    except ValueError as e:
        raise VitgatesError(f"the synthetic grid world cannot feed the board's detector: {e}") \
            from None
    return GridData(ds.image_ids, ds.grid, coco_from_dict(ds.coco), ds.label, True,
                    ds.grid_hw, ds.image_size)


def run_host_detector(args, port=None) -> tuple[dict, Regression, bool]:
    """The detector's board regression (``--design detector``): the grids and heads of
    ``vitgates regress`` (levels float, INT8, board; mAP through pycocotools), every board
    record against the golden INT8 detector. A board the grid world cannot feed (the small
    simulated one) without ``--features`` or a head gets a random head on random grids
    (SYNTHETIC, no ground truth: records only)."""
    from ..golden.detector import decision_agreement, decode_detections, random_head, ref_detect
    from ..golden.quant import quantize
    from ..regress.detector import _compare, _heads, _results, coco_eval, postprocess

    with _connect(args, port) as (link, info):
        shape = DetectorShape.from_info(info)
        if shape is None:
            raise VitgatesError(f"the board on {args.port} holds no detector (build the "
                                "board design without --no-detector)")
        n = args.images or 4
        random = _random_mode(args, shape)
        score = args.score_thresh
        notes = []
        if random:
            rng = np.random.default_rng(args.data_seed)
            q_grids = [rng.integers(-128, 128, (*shape.grid, shape.channels)).astype(np.int8)
                       for _ in range(n)]
            h8 = random_head(shape.channels, shape.n_classes, shape.box_rows,
                             seed=args.data_seed, grids=q_grids[:4], fire=0.01)
            data = fh = None
            source = (f"random INT8 head (SYNTHETIC), seed {args.data_seed}, thresholds "
                      "firing about 1 % of decisions")
            dataset = "synthetic random INT8 grids (random head: no ground truth, no mAP)"
            what = _shape_text(shape.channels, shape.n_classes, shape.box_rows)
            notes.append(
                f"**Random head on random grids (SYNTHETIC).** The board's detector "
                f"({shape.grid[0]}×{shape.grid[1]}, {what}) is not one the synthetic grid world "
                "(768 channels, 80 classes) can feed: its records are checked against the "
                "golden INT8 model, no mAP is measured.")
            reg = BoardRegression("board-detector", "cofiber detector on the board", dataset,
                                  True, n, [], decision_unit="detection records")
        else:
            data = _grid_data(args, shape, args.images if args.features else n)
            n = len(data.image_ids)
            fh, h8, source = _heads(args, data, score)
            h8, note = _board_head(h8, shape, args.detector_head or "the INT8 head")
            if note:
                notes.append(note)
            q_grids = [quantize(data.grid(int(i)), h8.feature_scale)
                       for i in data.image_ids.tolist()]
            if q_grids and q_grids[0].shape[-1] != shape.channels:
                raise VitgatesError(f"the grids have {q_grids[0].shape[-1]} channels; the "
                                    f"board's detector takes {shape.channels}")
            keys = ["map", "map50", "map75"]
            reg = BoardRegression("board-detector", "cofiber detector on the board",
                                  data.dataset, data.synthetic, n, keys,
                                  decision_unit="detection records")
        boxes = not random and h8.box_rows > 0
        ids = data.image_ids.tolist() if data is not None else list(range(n))

        def evaluate(recs) -> tuple[dict, int]:
            """mAP of per-image records (when they decode), and the detections kept."""
            if not boxes:
                return {}, sum(map(len, recs))
            res = []
            for i, r in zip(ids, recs, strict=False):
                res += _results(i, postprocess(decode_detections(r, h8, shape.grid)),
                                data.scale(i))
            m, _ = coco_eval(data.coco, res, ids[:len(recs)])
            return m, len(res)

        if fh is not None:
            t = time.perf_counter()
            f_res = []
            for i in ids:
                f_res += _results(i, fh.detect(data.grid(i), score_thresh=score), data.scale(i))
            fm, _ = coco_eval(data.coco, f_res, ids)
            reg.add_level(LevelRun("float", "float head", n, {**fm, "detections": len(f_res)},
                                   time.perf_counter() - t))
        t = time.perf_counter()
        want = [ref_detect(q, h8) for q in q_grids]
        im, i_dets = evaluate(want)
        reg.add_level(LevelRun("int8", "INT8 (golden)", n, {**im, "detections": i_dets},
                               time.perf_counter() - t,
                               extra={"records": sum(map(len, want))}))
        if fh is not None:
            agree = decision_agreement(fh, h8, [data.grid(i) for i in ids])
            drop = fm["map"] - im["map"] if "map" in im else None
            crit = f"mAP drop ≤ {args.max_metric_drop:g}"
            reg.add_check(Check(
                "INT8 vs float", agree["decisions"], agree["identical"],
                crit if drop is not None else "decisions (no boxes)",
                drop is None or drop <= args.max_metric_drop,
                (f"mAP drop {drop:+.4f}; " if drop is not None else "")
                + f"decisions fired: float {agree['float_fired']}, INT8 "
                  f"{agree['int8_fired']}, both {agree['both_fired']}"))
            reg.info["int8_vs_float_decisions"] = agree

        window = max(1, info.slots)
        per = max(1, info.max_payload // shape.stride) * shape.stride
        w, th = shape.weight_writes(h8), shape.threshold_writes(h8)
        before = link.status()
        t = time.perf_counter()
        link.stream([(Type.DET_WEIGHTS, w[k:k + per]) for k in range(0, len(w), per)]
                    + [(Type.DET_THRESHOLDS, th[k:k + per]) for k in range(0, len(th), per)],
                    window=window)
        load_seconds = time.perf_counter() - t
        sent0, recv0 = link.bytes_sent, link.bytes_received
        t = time.perf_counter()
        frames = []
        for g in q_grids:
            stream = shape.grid_stream(g)
            frames += [(Type.DET_GRID, stream[k:k + info.max_payload])
                       for k in range(0, len(stream), info.max_payload)]
        acks = link.stream(frames, window=window)
        link.wait_frames_done(n)
        seconds = time.perf_counter() - t
        sent, recv = link.bytes_sent - sent0, link.bytes_received - recv0
        after = link.status()
        delta = _counter_delta(before, after)
        got = [_det_array(shape, g) for g in _det_records(shape, link.detections)]

        bm, b_dets = evaluate(got)
        reg.add_level(LevelRun(
            "board", f"board over {args.port} ({info.baud:,} baud)", n,
            {**bm, "detections": b_dets}, seconds,
            extra={"records": sum(map(len, got)), "bytes_sent": sent, "bytes_received": recv,
                   "line_utilisation": round(sent * 10 / info.baud / seconds, 4)
                   if seconds > 0 else None}))
        check = _compare("board vs INT8", got, want)
        grid_acks = [int.from_bytes(p.payload, "little") for p in acks]
        done = sum(a == 0 for a in grid_acks)
        if done != n:
            check.passed = False
            check.note = (check.note + "; " if check.note else "") + \
                f"{done} of {n} grids acknowledged complete"
        reg.add_check(check)
        full, rest = divmod(shape.grid_bytes, info.max_payload)
        wire = full * frame_bytes(info.max_payload) + (frame_bytes(rest) if rest else 0)
        link_gps = info.baud / 10 / wire
        errors = {k: v for k, v in delta.items()
                  if (k.startswith("err_") or k in ("uart_framing", "uart_overrun",
                                                     "unreported")) and v}
        H, W = shape.grid
        reg.info.update({
            "port": args.port,
            "mode": "random head" if random else "grid data",
            "board_info": {"version": info.version, "clock_hz": info.clock_hz,
                           "baud": info.baud, "slots": info.slots,
                           "max_payload": info.max_payload, "timeout_us": info.timeout_us,
                           "det_shape": list(info.det_shape),
                           "det_fold": list(info.det_fold)},
            "head": source,
            "score_thresh": None if random else score,
            "grid": [H, W],
            "macs_per_frame": H * W * h8.channels * h8.rows,
            "grid_bytes": shape.grid_bytes,
            "grids_per_second": round(n / seconds, 4) if seconds > 0 else None,
            "link_grids_per_second": round(link_gps, 4),
            "load_seconds": round(load_seconds, 3),
            "counters_before": before,
            "counters_after": after,
            "counters_delta": delta,
            "link_errors": errors,
            "host_rx_errors": len(link.rx_errors),
        })
        for note in notes:
            reg.sections += ["", note]
            reg.info.setdefault("notes", []).append(note)
        reg.sections += [
            "", "## Link", "",
            f"{n} grids of {shape.grid_bytes:,} bytes ({len(frames)} DET_GRID frames) at "
            f"{info.baud:,} baud (the line allows {link_gps:.4f} grids/s): "
            f"{n / seconds:.4f} grids/s measured, {sum(map(len, got))} detection records. "
            f"Errors counted by the board: {errors or 'none'}; frames from the board that "
            f"failed their checks: {len(link.rx_errors)}.",
        ]
        return reg.report(), reg, reg.passed


class BoardRegression(Regression):
    """A regression whose deciding level is the board."""

    def top_level(self):
        return self.level("board") or super().top_level()


def configure_parser(parser):
    parser.add_argument("--design", choices=["person", "detector"], default="person",
                        help="which design of the bitstream to run (default person)")
    parser.add_argument("--port", required=True,
                        help="serial device (/dev/ttyUSB1) or pyserial URL (socket://host:port)")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                        help=f"line rate (default {DEFAULT_BAUD}; must be the bitstream's)")
    parser.add_argument("--features", metavar="DIR",
                        help="feature cache (default: the embedded synthetic data)")
    parser.add_argument("--annotations", metavar="FILE",
                        help="COCO annotations of the cached images (person labels)")
    parser.add_argument("--config", metavar="FILE",
                        help="the person-classifier config the bitstream was built with "
                        "(default: the shipped one)")
    parser.add_argument("--person-float", metavar="FILE",
                        help="the float person classifier (JSON) the config was derived from")
    add_head_options(parser)
    parser.add_argument("-n", "--images", type=int, default=None,
                        help="first N images (default: all; 5000 synthetic; detector: all cached, "
                        "4 synthetic)")
    parser.add_argument("--data-seed", type=int, default=0,
                        help="seed of the synthetic data (default 0)")
    parser.add_argument("--max-metric-drop", type=float, default=0.03,
                        help="largest F1 loss of INT8 against float that passes")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="seconds to wait for a reply (default 2)")
    parser.add_argument("--reports", metavar="DIR", default=None,
                        help="where the report goes (default build/reports)")


def run(args) -> int:
    if args.images is not None and args.images < 2:
        raise VitgatesError("--images must be at least 2")
    if getattr(args, "design", "person") == "detector":
        if not 0 < args.score_thresh < 1:
            raise VitgatesError("--score-thresh must lie in (0, 1)")
        rep, reg, passed = run_host_detector(args)
        write(rep, reg, args.reports)
        levels = {lv["level"]: lv for lv in rep["levels"]}
        board = levels["board"]
        tag = " (synthetic, random head)" if rep["mode"] == "random head" else \
            " (synthetic)" if rep["synthetic"] else ""
        m = ""
        if "map" in board:
            m = f"mAP {board['map']:.4f} (INT8 {levels['int8']['map']:.4f}), "
        print(f"board detector{tag}: {rep['n_images']} grids, {board['records']} detection "
              f"records, agreement with INT8 {rep['agreement_with_int8']:.6f}, {m}"
              f"{rep['grids_per_second']} grids/s, link errors {rep['link_errors'] or 'none'}: "
              f"{'PASS' if passed else 'FAIL'}")
        return 0 if passed else 1
    rep, reg, passed = run_host(args)
    write(rep, reg, args.reports)
    tag = " (synthetic)" if rep["synthetic"] else ""
    board = next(lv for lv in rep["levels"] if lv["level"] == "board")
    print(f"board{tag}: {rep['n_images']} images, F1 {rep['f1']:.4f}, agreement with INT8 "
          f"{rep['agreement_with_int8']:.6f}, {board['images_per_second']:.1f} images/s, "
          f"link errors {rep['link_errors'] or 'none'}: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


def write(rep: dict, reg, folder=None) -> tuple[Path, Path]:
    """Write the report as ``regress-board-<form>.{json,md}`` (in ``folder`` when given)."""
    name = f"regress-{rep['design']}"
    if folder is None:
        from ..reports import write_report

        return write_report(name, rep, reg.markdown(rep))
    from ..fileio import atomic_write_json, atomic_write_text

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    j, m = d / f"{name}.json", d / f"{name}.md"
    atomic_write_json(j, rep)
    atomic_write_text(m, reg.markdown(rep).rstrip() + "\n")
    print(f"report: {j}")
    print(f"report: {m}")
    return j, m
