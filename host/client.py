"""Talking to a board over its UART: the port, the framing of docs/link.md, deadlines.

The client speaks the link through pyserial, so a port is a device (``/dev/ttyUSB1``: the
iCEBreaker's second FTDI channel, the ULX3S's only one) or any pyserial URL
(``socket://host:port``: the simulated board of ``tests/test_host.py``). Frames are built
with :func:`~vitgates.golden.link.encode_frame` and the board's replies parsed with
:class:`~vitgates.golden.link.Deframer`; the regressions that run through a board are
:mod:`vitgates.host.person` and :mod:`vitgates.host.detector`.
"""

from __future__ import annotations

import time
from collections import deque
from contextlib import contextmanager

import numpy as np

from ..errors import VitgatesError
from ..golden.link import (
    COUNTERS,
    MAX_PAYLOAD,
    Deframer,
    Error,
    LinkError,
    Packet,
    Type,
    encode_frame,
    parse_info,
    parse_status,
)

__all__ = ["DEFAULT_BAUD", "DET_PACKETS", "BoardLink", "connect", "counter_delta",
           "link_errors", "open_port"]

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


def counter_delta(before: dict, after: dict) -> dict:
    """How far each STATUS counter moved from ``before`` to ``after`` (modulo its width)."""
    widths = dict(COUNTERS)
    return {k: (after[k] - before[k]) % (1 << widths[k]) for k in after}


def link_errors(delta: dict) -> dict:
    """The error counters of a :func:`counter_delta` that moved."""
    return {k: v for k, v in delta.items()
            if (k.startswith("err_") or k in ("uart_framing", "uart_overrun", "unreported"))
            and v}


@contextmanager
def connect(url: str, *, baud: int = DEFAULT_BAUD, timeout: float = 2.0, port=None):
    """``(link, info)`` of the board on ``port`` (an open pyserial-like port), else on
    ``url`` opened here and closed on the way out. ``url`` names the board in messages."""
    own = port is None
    if own:
        port = open_port(url, baud)
    try:
        link = BoardLink(port, timeout=timeout, name=f"the board on {url}")
        if hasattr(port, "reset_input_buffer"):
            port.reset_input_buffer()
        yield link, link.info()
    finally:
        if own:
            port.close()
