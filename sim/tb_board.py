"""cocotb testbenches of the board: the whole top through its UART pins, the link core under
malformed byte streams (with and without the detector), and a socket bridge that lets the
host client talk to the simulated board.

The UART model on the pins is :mod:`vitgates.sim.uart_model`, the drivers of the top and of
the core harness are in :mod:`vitgates.sim.board_drivers`, the socket bridge is
:mod:`vitgates.sim.board_bridge`. Run through :func:`vitgates.sim.runner.run_cocotb`
(``tests/test_board_cocotb.py``) with arguments:

- ``config`` (PersonConfig as a dict), ``form``: the classifier baked into the bitstream;
- ``info``: the INFO payload the board must report, hex (it fixes the reference model);
- ``cycles_per_bit``: the UART's clock cycles a bit; ``timeout_cycles``: the link's silence
  timeout; ``period_ns``: the simulation clock;
- ``vectors``: ``.npy`` of pooled INT8 features [n, 768] (``top``);
- ``fuzz``: how many malformed streams (``fuzz``); ``seed``;
- ``port``: TCP port the bridge listens on (``bridge``).

Tests (pick one with ``testcase``):

``top``
    :class:`~vitgates.fpga.board_top.BoardTop` (simulation form: ports ``clk``, ``rst``,
    ``uart_rx``, ``uart_tx``, ``leds``) with a UART model on the pins: INFO, PING, CLASSIFY
    frames, malformed frames, a byte without stop bit, STATUS. Every reply equals the
    golden :class:`~vitgates.golden.link.LinkModel`'s, byte for byte.
``detector``
    The top again (it must hold a detector; ``tests/board_sim.py`` builds a small one):
    DET_* errors, the weights and thresholds of a random head (SYNTHETIC), two grids in
    DET_GRID frames with two frames in flight. Every reply, and every DETECTIONS and
    FRAME_DONE packet, equals the model's byte for byte; the records are the golden
    detector's (``ref_detect``).
``fuzz``
    The link core without its UART (``tests/board_sim.py``'s ``CoreHarness``: bytes in by
    chunks of 64, a byte every ``gap`` cycles; output bytes in a window with a counter):
    ``fuzz`` random malformed streams (bit flips, bursts, cut frames, inserted and deleted
    bytes, garbage, headers with impossible lengths, stray magics), each followed by a
    silence (the timeout ends a frame left open) and a good frame. Every reply equals the
    model's, and the good frame's reply arrives and is right. It prints how many malformed
    streams it sent and how many errors came back.
``fuzz_detector``
    The link core with a detector (arguments also ``good_every``): ``fuzz`` malformed
    DET_WEIGHTS / DET_THRESHOLDS / DET_GRID / PING / INFO streams, each followed by a
    silence and a good frame, and every ``good_every`` streams a good load and a whole grid
    in random chunks, whose records must be ``ref_detect``'s. Replies are compared exactly
    with the model's; detection packets as a stream of their own (they may leave before
    their grid's last byte arrives). Ends with STATUS equal to the model's; prints a
    ``FUZZ-DET-SUMMARY`` line.
``bridge``
    The top again, its UART joined to a TCP socket: bytes from the client are sent on
    ``uart_rx`` at the line rate, bytes from ``uart_tx`` go back. Ends when a client that
    sent something disconnects (one that leaves without a byte was a readiness probe).
    Simulated time advances only while the board is busy or bytes are queued, so the
    link's silence timeout does not fire while the client thinks.
"""

import random

import cocotb
import numpy as np
from cocotb.triggers import Timer

from ..golden.detector import random_head, ref_detect
from ..golden.link import (
    MAGIC,
    Error,
    LinkModel,
    Packet,
    Type,
    crc8,
    encode_frame,
    parse_info,
    parse_status,
)
from ..golden.person_config import PersonConfig
from .board_bridge import serve_tcp
from .board_drivers import ChunkDriver, DetChunkDriver, reset, uart_pins
from .runner import tb_args

__all__ = []


def _setup():
    a = tb_args()
    cfg = PersonConfig.from_dict(a["config"])
    info = parse_info(bytes.fromhex(a["info"]))
    return a, LinkModel((cfg, a["form"]), info=info)


def _compare(got, want, what):
    for k, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            raise AssertionError(f"{what}: reply {k} is {g!r}, the model's {w!r}")
    if len(got) != len(want):
        raise AssertionError(f"{what}: {len(got)} replies, the model gives {len(want)}")


@cocotb.test()
async def top(dut):
    """The whole board top through its pins."""
    a, model = _setup()
    period = a["period_ns"]
    src, sink, bit_ns = await uart_pins(dut, a["period_ns"], a["cycles_per_bit"])
    silence_ns = (a["timeout_cycles"] + 50) * period
    x = np.load(a["vectors"])
    want = []
    sent = 0

    async def send(data, window=True):
        nonlocal sent
        replies = model.feed(data)
        want.extend(replies)
        if window:  # at most two frames awaiting their replies
            await sink.wait_packets(len(want) - len(replies) - 1, 4 * 900 * 10 * bit_ns)
        await src.send(data)
        sent += len(data)

    await send(encode_frame(Type.INFO, 1))
    await send(encode_frame(Type.PING, 2, bytes(range(40))))
    for k, v in enumerate(x):
        await send(encode_frame(Type.CLASSIFY, (10 + k) & 0xFF, v.tobytes()))
    await send(b"\x00\x55" + encode_frame(Type.PING, 3, b"after stray bytes"))
    bad = bytearray(encode_frame(Type.CLASSIFY, 4, x[0].tobytes()))
    bad[100] ^= 0x10
    await send(bytes(bad) + encode_frame(Type.PING, 5, b"after a bad CRC"))
    await send(encode_frame(Type.PING, 6, b"cut short")[:8])
    await Timer(silence_ns, unit="ns")
    want.extend(model.idle())
    await send(encode_frame(Type.PING, 7, b"after a timeout"))
    # a byte without its stop bit: the UART drops it and counts it; the deframer never sees it
    await sink.wait_packets(len(want), 4 * 900 * 10 * bit_ns)
    await src.send(b"\x42", stop=0)
    await Timer(3 * bit_ns, unit="ns")
    model.counters["uart_framing"] += 1
    await send(encode_frame(Type.PING, 8, b"after a framing error"))
    await sink.wait_packets(len(want), 4 * 900 * 10 * bit_ns)
    await Timer(silence_ns, unit="ns")
    await send(encode_frame(Type.STATUS, 9))
    await sink.wait_packets(len(want), 4 * 900 * 10 * bit_ns)
    await Timer(40 * bit_ns, unit="ns")
    _compare(sink.packets, want, "board top")
    assert sink.framing_errors == 0, "the board sent a byte without stop bit"
    status = parse_status(sink.packets[-1].payload)
    decisions = [p.payload[0] for p in sink.packets if p.type == Type.DECISION]
    assert len(decisions) == len(x)
    assert int(dut.leds.value) >> 3 & 1, "the error LED is not lit after link errors"
    cocotb.log.info(f"board top: {sent} bytes sent over the UART, {len(sink.packets)} replies "
                    f"identical to the model; {len(decisions)} decisions {decisions}; "
                    f"counters {status}")


@cocotb.test()
async def detector(dut):
    """The detector through the board's pins: loads, grids, detections."""
    a, model = _setup()
    shape = model.detector
    assert shape is not None, "this board top holds no detector"
    src, sink, bit_ns = await uart_pins(dut, a["period_ns"], a["cycles_per_bit"])
    rng = np.random.default_rng(a.get("seed", 0))
    grids = [rng.integers(-128, 128, (*shape.grid, shape.channels)).astype(np.int8)
             for _ in range(2)]
    head = random_head(shape.channels, shape.n_classes, shape.box_rows,
                       seed=a.get("seed", 0), grids=grids, fire=0.05)
    want = []
    frame_ns = 1100 * 10 * bit_ns
    seq = 0

    def replies(sink):
        return len(sink.replies)

    async def send(type_, payload=b""):
        nonlocal seq
        seq = (seq + 1) & 0xFF
        data = encode_frame(type_, seq, payload)
        got = model.feed(data)
        want.extend(got)
        # at most two frames awaiting their replies
        await sink.wait_packets(len(want) - len(got) - 1, 40 * frame_ns, replies)
        await src.send(data)

    per = (1024 // shape.stride) * shape.stride
    w, t = shape.weight_writes(head), shape.threshold_writes(head)
    await send(Type.DET_GRID, shape.grid_stream(grids[0])[:64])  # BAD_ORDER
    await send(Type.DET_WEIGHTS, w[:shape.stride - 1])  # BAD_LENGTH
    for k in range(0, len(w), per):
        await send(Type.DET_WEIGHTS, w[k:k + per])
    for k in range(0, len(t), per):
        await send(Type.DET_THRESHOLDS, t[k:k + per])
    for g in grids:
        data = shape.grid_stream(g)
        for k in range(0, len(data), 100):
            await send(Type.DET_GRID, data[k:k + 100])
    want_dets = model.take_detections()
    await sink.wait_packets(len(want), 40 * frame_ns, replies)
    await sink.wait_packets(len(want_dets), 100 * frame_ns, lambda s: len(s.detections))
    await Timer(40 * 10 * bit_ns, unit="ns")
    _compare(sink.replies, want, "detector: replies")
    _compare(sink.detections, want_dets, "detector: detections")
    assert sink.framing_errors == 0, "the board sent a byte without stop bit"
    assert [p.error[0] for p in sink.replies if p.error] == [Error.BAD_ORDER,
                                                              Error.BAD_LENGTH]
    recs = [shape.parse_record(p.payload) for p in sink.detections]
    n_ref = 0
    for g in grids:
        for d in ref_detect(g, head):
            r = recs[n_ref]
            assert (r["band"], r["y"], r["x"], r["cls"], r["acc"]) == tuple(
                int(d[k]) for k in ("band", "y", "x", "cls", "acc")), (r, d)
            n_ref += 1
        assert recs[n_ref]["end"] == 1
        n_ref += 1
    assert n_ref == len(recs) and len(recs) > 2
    cocotb.log.info(f"board top, detector: {len(sink.replies)} replies and "
                    f"{len(recs)} detection packets ({len(recs) - len(grids)} records, "
                    f"{len(grids)} FRAME_DONE) identical to the model")


def _mutate(rng, frame: bytes) -> bytes:
    """A malformed version of ``frame``."""
    f = bytearray(frame)
    kind = rng.randrange(8)
    if kind == 0:  # one bit flipped anywhere
        f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # a burst of errors
        k = rng.randrange(len(f))
        for j in range(k, min(len(f), k + rng.randrange(1, 5))):
            f[j] = rng.getrandbits(8)
    elif kind == 2:  # cut short
        return bytes(f[:rng.randrange(1, len(f))])
    elif kind == 3:  # a byte inserted
        f.insert(rng.randrange(1, len(f)), rng.getrandbits(8))
    elif kind == 4:  # a byte deleted
        del f[rng.randrange(len(f))]
    elif kind == 5:  # garbage
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 24)))
    elif kind == 6:  # a header with a good hcrc and a length that is too long or wrong
        length = rng.choice([1025, 0xFFFF, rng.randrange(1026, 0x10000)])
        head = bytes([f[2], f[3], length & 0xFF, length >> 8])
        return MAGIC + head + bytes([crc8(head)]) + bytes(rng.randrange(8))
    else:  # stray magic bytes around the frame
        return bytes([MAGIC[0]] * rng.randrange(1, 3)) + bytes(f) + MAGIC[:1]
    return bytes(f)


@cocotb.test()
async def fuzz(dut):
    """Malformed byte streams into the link core; every reply as the model's."""
    a, model = _setup()
    rng = random.Random(a.get("seed", 0))
    period = a["period_ns"]
    await reset(dut, period)
    drv = ChunkDriver(dut, period, a["gap"])
    want = []
    x = np.random.default_rng(a.get("seed", 0)).integers(-128, 128, (8, 768)).astype(np.int8)
    types = [Type.PING, Type.INFO, Type.CLASSIFY, Type.DET_GRID, 0x3F]
    n_cases = a["fuzz"]
    malformed_bytes = 0
    silence_ns = (a["timeout_cycles"] + 20) * period
    checked = 0  # replies compared so far
    for case in range(n_cases):
        t = rng.choice(types)
        if t == Type.CLASSIFY and rng.random() < 0.9:
            t = Type.PING  # a CLASSIFY frame is long: keep a few
        payload = (x[rng.randrange(8)].tobytes() if t == Type.CLASSIFY else
                   bytes(rng.getrandbits(8) for _ in range(rng.randrange(12))))
        bad = _mutate(rng, encode_frame(t, case & 0xFF, payload))
        malformed_bytes += len(bad)
        want += model.feed(bad)
        await drv.send(bad)
        # a silence ends whatever frame the stream left open (TIMEOUT)
        await Timer(silence_ns, unit="ns")
        want += model.idle()
        # the good frame after it: a PING, or every 100th a CLASSIFY
        if case % 100 == 99:
            good = encode_frame(Type.CLASSIFY, case & 0xFF, x[case % 8].tobytes())
        else:
            good = encode_frame(Type.PING, case & 0xFF, bytes([case & 0xFF, case >> 8]))
        want += model.feed(good)
        await drv.send(good)
        what = f"fuzz case {case} (stream {bad.hex()})"
        await drv.wait_packets(len(want), what)
        if drv.packets[checked:] != want[checked:]:
            _compare(drv.packets[checked:], want[checked:], what)
        checked = len(want)
    await Timer(silence_ns, unit="ns")
    want += model.idle()
    want += model.feed(encode_frame(Type.STATUS, 0))
    await drv.send(encode_frame(Type.STATUS, 0))
    await drv.wait_packets(len(want), "final STATUS")
    await Timer(200 * period, unit="ns")
    drv.collect()
    packets = drv.packets
    _compare(packets, want, "fuzz")
    status = parse_status(packets[-1].payload)
    errors = sum(v for k, v in status.items() if k.startswith("err_"))
    assert status["unreported"] == 0
    cocotb.log.info(
        f"fuzz: {n_cases} malformed streams sent ({malformed_bytes} bytes), each followed by "
        f"a good frame; all {n_cases} good frames answered correctly; {len(packets)} replies "
        f"identical to the model, {errors} errors reported; counters {status}")
    print(f"FUZZ-SUMMARY malformed_streams={n_cases} malformed_bytes={malformed_bytes} "
          f"good_frames_ok={n_cases} errors_reported={errors}")


@cocotb.test()
async def bridge(dut):
    """Serve the simulated board on a TCP port until the client disconnects."""
    a = tb_args()
    src, sink, bit_ns = await uart_pins(dut, a["period_ns"], a["cycles_per_bit"])
    await serve_tcp(src, sink, bit_ns, a["port"])
    cocotb.log.info(f"bridge: {len(sink.packets)} packets sent to the client")
    assert all(isinstance(p, Packet) for p in sink.packets)


def _det_fuzz_payload(rng, shape, t, w, th):
    """The payload of a frame the detector fuzz mutates: whole writes (slices of a real
    load, or random writes, some out of range), a few bytes of grid, or junk."""
    s = shape.stride
    if t in (Type.DET_WEIGHTS, Type.DET_THRESHOLDS):
        r = rng.random()
        if r < 0.4:
            real = w if t == Type.DET_WEIGHTS else th
            k = rng.randrange(len(real) // s)
            return real[k * s:(k + rng.randrange(1, 4)) * s]
        if r < 0.8:
            return bytes(rng.getrandbits(8) for _ in range(s * rng.randrange(1, 3)))
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(24)))
    if t == Type.DET_GRID:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(48)))
    if t == Type.PING:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(12)))
    return b""


@cocotb.test()
async def fuzz_detector(dut):
    """Malformed DET_* (and PING, INFO) streams into a link core with a detector, good
    detector sequences between them; every reply and detection packet as the model's."""
    a, model = _setup()
    if not model.info.person:  # a core without the classifier
        model = LinkModel(None, info=model.info)
    shape = model.detector
    assert shape is not None, "this core holds no detector"
    seed = a.get("seed", 0)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    period = a["period_ns"]
    await reset(dut, period)
    drv = DetChunkDriver(dut, period, a["gap"])
    # the good sequences' grids and heads (SYNTHETIC)
    grids = [nrng.integers(-128, 128, (*shape.grid, shape.channels)).astype(np.int8)
             for _ in range(4)]
    heads = [random_head(shape.channels, shape.n_classes, shape.box_rows, seed=seed + k,
                         grids=grids, fire=0.1) for k in range(2)]
    loads = [(shape.weight_writes(h), shape.threshold_writes(h)) for h in heads]
    per = (1024 // shape.stride) * shape.stride
    n_cases, every = a["fuzz"], a["good_every"]
    types = [Type.DET_WEIGHTS, Type.DET_THRESHOLDS, Type.DET_GRID, Type.DET_GRID,
             Type.PING, Type.INFO]
    silence = a["timeout_cycles"] + 20
    want = []  # the model's replies
    grid_left = 0  # bytes the grid in progress still needs (from the acks)
    malformed_bytes = good_frames = good_grids = records_checked = 0
    seq = 0
    checked = checked_dets = 0  # replies and detection packets compared so far

    def feed(data):
        nonlocal grid_left
        got = model.feed(data)
        for p in got:
            if p.type == Type.DET_GRID_ACK:
                grid_left = int.from_bytes(p.payload, "little")
        want.extend(got)
        return got

    def check(what):
        """Replies exactly; detection packets as far as the model has them: the detector
        sends the records of a grid's first pixels while the rest of the grid is still to
        come, the model runs ``ref_detect`` when the grid is complete."""
        nonlocal checked, checked_dets
        if drv.replies[checked:] != want[checked:]:
            _compare(drv.replies, want, what)
        checked = len(want)
        dets = model.detections
        n = min(len(dets), len(drv.detections))
        if drv.detections[checked_dets:n] != dets[checked_dets:n] or (
                len(drv.detections) > len(dets) and not grid_left):
            n = max(0, len(dets) - 6)
            tail = [(p.type, shape.parse_record(p.payload)) for p in drv.detections[n:n + 12]]
            want_tail = [shape.parse_record(p.payload) for p in dets[n:]]
            cocotb.log.error(f"{what}: the board's detection packets {n}..: {tail}; "
                             f"the model's: {want_tail}")
            _compare(drv.detections, dets, what + ": detections")
        checked_dets = n

    async def frame(t, payload=b""):
        """A good frame, at most two awaiting their replies."""
        nonlocal seq, good_frames
        seq = (seq + 1) & 0xFF
        n = len(want)
        got = feed(encode_frame(t, seq, payload))
        await drv.wait_for(n - 1, 0, f"window before {Type(t).name}")
        await drv.send(encode_frame(t, seq, payload))
        good_frames += 1
        return got

    async def finish_grid(what):
        """Send the rest of a grid the fuzz left open (random bytes)."""
        while grid_left:
            n = min(grid_left, rng.randrange(1, 1025))
            await frame(Type.DET_GRID, bytes(rng.getrandbits(8) for _ in range(n)))
            await drv.wait_for(len(want), 0, f"{what}: the open grid")

    async def good_sequence(k):
        """Finish a grid the fuzz left open, load a head, send a whole grid in chunks;
        its records must be ``ref_detect``'s."""
        nonlocal good_grids, records_checked
        await finish_grid(f"good sequence {k}")
        head = heads[k % len(heads)]
        w, th = loads[k % len(loads)]
        for data, t in ((w, Type.DET_WEIGHTS), (th, Type.DET_THRESHOLDS)):
            for j in range(0, len(data), per):
                await frame(t, data[j:j + per])
        g = grids[k % len(grids)]
        stream = shape.grid_stream(g)
        first = len(model.detections)
        j = 0
        while j < len(stream):
            n = rng.randrange(1, 200)
            await frame(Type.DET_GRID, stream[j:j + n])
            j += n
        await drv.wait_for(len(want), len(model.detections), f"good sequence {k}")
        check(f"good sequence {k}")
        recs = [shape.parse_record(p.payload) for p in drv.detections[first:]]
        ref = ref_detect(g, head)
        assert len(recs) == len(ref) + 1 and recs[-1]["end"] == 1, (k, len(recs), len(ref))
        for r, d in zip(recs, ref, strict=False):
            assert (r["band"], r["y"], r["x"], r["cls"], r["acc"]) == tuple(
                int(d[f]) for f in ("band", "y", "x", "cls", "acc")), (k, r, d)
            if shape.box_rows:
                assert r["box"] == tuple(int(v) for v in d["box"]), (k, r, d)
        good_grids += 1
        records_checked += len(ref)

    for case in range(n_cases):
        t = rng.choice(types)
        w, th = loads[rng.randrange(len(loads))]
        payload = _det_fuzz_payload(rng, shape, t, w, th)
        bad = _mutate(rng, encode_frame(t, case & 0xFF, payload))
        malformed_bytes += len(bad)
        feed(bad)
        await drv.send(bad)
        # a silence ends whatever frame the stream left open (TIMEOUT)
        await drv.pause(silence)
        want.extend(model.idle())
        if case % 4 == 3:
            await frame(Type.INFO)
        else:
            await frame(Type.PING, bytes([case & 0xFF, case >> 8]))
        what = f"detector fuzz case {case} (stream {bad.hex()})"
        await drv.wait_for(len(want), 0, what)
        check(what)
        if case % every == 0:
            await good_sequence(case // every)
    await drv.pause(silence)
    want.extend(model.idle())
    await finish_grid("the end")
    await drv.wait_for(len(want), len(model.detections), "the last records")
    await frame(Type.STATUS)
    await drv.wait_for(len(want), len(model.detections), "final STATUS")
    await drv.pause(400)
    _compare(drv.replies, want, "detector fuzz")
    _compare(drv.detections, model.detections, "detector fuzz: detections")
    status = parse_status(drv.replies[-1].payload)
    assert status == model.status()
    assert status["unreported"] == 0
    errors = sum(v for k, v in status.items() if k.startswith("err_"))
    grids_done = sum(p.type == Type.FRAME_DONE for p in drv.detections)
    cocotb.log.info(
        f"detector fuzz: {n_cases} malformed streams sent ({malformed_bytes} bytes), each "
        f"followed by a good frame; {good_frames} good frames answered correctly; "
        f"{good_grids} good grids with {records_checked} records as ref_detect's; "
        f"{grids_done} grids completed in all; {len(drv.replies)} replies and "
        f"{len(drv.detections)} detection packets identical to the model; {errors} errors "
        f"reported; counters {status}")
    print(f"FUZZ-DET-SUMMARY malformed_streams={n_cases} malformed_bytes={malformed_bytes} "
          f"errors_reported={errors} good_frames_ok={good_frames} good_grids={good_grids} "
          f"grids_completed={grids_done} records_checked={records_checked} "
          f"detection_packets={len(drv.detections)}")
