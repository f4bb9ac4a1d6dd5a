"""``LinkController``: the command FSM between the checked frames and the designs.

It takes the deframer's descriptors in order, runs each command (docs/link.md) and
writes one reply packet per frame to the framer. Its reference is
:class:`vitgates.golden.link.model.LinkModel`.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.detector_formats import DetectorShape
from ..golden.link.frames import ERROR_BYTES, Error, Type
from ..golden.link.replies import COUNTERS, INFO_BYTES, STATUS_BYTES, LinkInfo, info_payload
from .byte_detector import LOAD_BYTE
from .deframer import descriptor_layout
from .framer import PACKET_BYTE
from .link_status import CONTROLLER_EVENTS

__all__ = ["LinkController"]

# where a reply's payload comes from
_BODY_SLOT, _BODY_INFO, _BODY_STATUS, _BODY_ERROR, _BODY_DECISION, _BODY_WORD = range(6)
_BODIES = 6
# where a FEED state sends a payload
_TO_PERSON, _TO_GRID, _TO_LOAD = range(3)


class LinkController(wiring.Component):
    """Run the commands of good frames; answer every frame with one packet.

    Parameters
    ----------
    info : LinkInfo
        What INFO reports (sizes, clock, baud, the baked person config's id); its
        ``max_payload`` and ``slots`` size the buffer ports; ``person`` says whether
        ``person_i``/``person_o`` exist, ``detector`` (with ``det_shape`` and
        ``det_fold``: :class:`~vitgates.golden.detector_formats.DetectorShape`) whether
        the ``det_*`` ports do.

    Attributes
    ----------
    desc : In(stream.Signature(descriptor_layout(max_payload, slots)))
        Frames and errors, in arrival order (from the descriptor FIFO).
    buf : In(memory.ReadPort.Signature(addr_width, 8))
        Read port of the payload buffer (synchronous, one cycle of latency).
    release : Out(1)
        Pulse: done with the payload slot of the oldest good frame.
    o : Out(stream.Signature(PACKET_BYTE))
        Reply packets, to the framer.
    person_i : Out(stream.Signature(signed(8)))
        CLASSIFY payloads, ``feature_dim`` channels per frame (present when ``info.person``).
    person_o : In(stream.Signature(1))
        The classifier's decisions.
    det_i : Out(stream.Signature(8)), det_load : Out(stream.Signature(LOAD_BYTE))
        DET_GRID payloads (grid bytes) and DET_WEIGHTS / DET_THRESHOLDS payloads (writes) to
        the :class:`~vitgates.hw.byte_detector.ByteDetector` (present when
        ``info.detector``).
    det_idle : In(1)
        No grid is in the detector: every grid handed over has sent its end record. A
        load waits for it (so that a grid's records all use the memories it started with).
    det_grid_end : Out(1)
        Pulse: a DET_GRID frame completed a grid.
    status_snapshot : Out(1), status_index : Out(range(len(COUNTERS))), status_word : In(32)
        The counters (:class:`~vitgates.hw.link_status.LinkStatus`): a STATUS command takes
        a snapshot when it starts and reads it a counter at a time (one cycle of latency).
    events : Out(CONTROLLER_EVENTS)
        Pulses for the counters.
    decision : Out(1)
        The last decision (for an LED).

    Timing: a reply's first byte is offered 3 cycles after its descriptor; header bytes and
    a slot's bytes (PONG) move one a cycle while the framer takes them, the bytes of the
    other replies one every three cycles (see the fetch logic); the UART needs 10 bit times
    a byte, so none of this shows on the line. A CLASSIFY frame streams its
    payload into the classifier at one channel per cycle (``feature_dim`` cycles) and releases
    its slot as soon as the last channel is taken; its reply follows the decision. A
    DET_GRID or DET_WEIGHTS/DET_THRESHOLDS frame streams its payload into the detector a byte
    a cycle (while the detector takes them) and is acknowledged when the last byte is taken.
    """

    def __init__(self, info: LinkInfo):
        self.info = info
        self.max_payload = info.max_payload
        self.slots = info.slots
        self.addr_width = (info.max_payload * info.slots - 1).bit_length()
        self._info_bytes = info_payload(info)
        sig = {
            "desc": In(stream.Signature(descriptor_layout(info.max_payload, info.slots))),
            "buf": In(memory.ReadPort.Signature(addr_width=self.addr_width, shape=8)),
            "release": Out(1),
            "o": Out(stream.Signature(PACKET_BYTE)),
            "status_snapshot": Out(1),
            "status_index": Out(range(len(COUNTERS))),
            "status_word": In(32),
            "events": Out(CONTROLLER_EVENTS),
            "decision": Out(1),
        }
        if info.person:
            sig["person_i"] = Out(stream.Signature(signed(8)))
            sig["person_o"] = In(stream.Signature(1))
        self.det = DetectorShape.from_info(info)
        if self.det is not None:
            sig["det_i"] = Out(stream.Signature(8))
            sig["det_load"] = Out(stream.Signature(LOAD_BYTE))
            sig["det_idle"] = In(1)
            sig["det_grid_end"] = Out(1)
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        width = max(self.max_payload, INFO_BYTES, STATUS_BYTES)
        d = Signal(descriptor_layout(self.max_payload, self.slots))
        # d, decoded (DECODE)
        is_err = Signal()
        is_ping = Signal()
        is_info = Signal()
        is_status = Signal()
        is_classify = Signal()
        is_det = Signal()
        empty = Signal()
        one_vector = Signal()

        # the reply being sent
        r_type = Signal(8)
        r_seq = Signal(8)
        r_len = Signal(range(width + 1))
        r_empty = Signal()
        body = Signal(range(_BODIES))
        slot_body = Signal()  # body == _BODY_SLOT, as a flip-flop of its own
        body_onehot = Signal(_BODIES)  # ... and every kind as one
        feed_to = Signal(range(3))  # where FEED sends the payload
        ack_word = Signal(32)  # the payload of a DET_GRID_ACK (comb: from the grid counter)
        feed_next = Signal()  # SETUP goes on to FEED (a CLASSIFY payload), not HEADER
        owns_slot = Signal()  # release the slot when the reply is sent (PONG)
        e_code = Signal(8)
        e_type = Signal(8)
        e_seq = Signal(8)
        e_info = Signal(8)
        hidx = Signal(range(4))

        # -- every payload is read as a stream: rd_idx is the next byte to fetch, `remaining`
        # counts the bytes still to fetch (`more`: it is not zero), `have` says that a fetched
        # byte waits to be taken. A slot's bytes come from the buffer's read port (buf.data,
        # one cycle of latency, held while en is low): one byte a cycle. A reply's own
        # payload (INFO, STATUS, ERROR, DECISION) is read as 32-bit words in three steps
        # (counter word, word, byte), each ending at a register: a byte every three cycles,
        # far faster than the UART sends them. SETUP loads the counters; fetching runs during
        # the header, which hides its latency.
        rd_idx = Signal(range(width + 1))
        remaining = Signal(range(width + 1))
        more = Signal()
        have = Signal()
        fetching = Signal()
        phase = Signal(range(3))
        word = Signal(32)
        held = Signal(8)
        sink_ready = Signal()
        advance = Signal()
        m.d.comb += [
            advance.eq(~have | sink_ready),
            self.buf.en.eq(advance),
            self.buf.addr.eq(Cat(rd_idx[:(self.max_payload - 1).bit_length()], d.slot)),
            self.status_index.eq(rd_idx[2:]),
        ]
        info_words = [int.from_bytes(self._info_bytes[k:k + 4], "little")
                      for k in range(0, INFO_BYTES, 4)]

        # `word` follows rd_idx every cycle (an AND-OR of the sources by one-hot flags); it
        # is right from phase 2 on, since rd_idx only moves at phase 2.
        info_word = Signal(32)
        with m.Switch(rd_idx[2:]):
            for k, v in enumerate(info_words):
                with m.Case(k):
                    m.d.comb += info_word.eq(v)
        m.d.sync += word.eq(
            Mux(body_onehot[_BODY_INFO], info_word, 0)
            | Mux(body_onehot[_BODY_STATUS], self.status_word, 0)
            | Mux(body_onehot[_BODY_ERROR], Cat(e_code, e_type, e_seq, e_info), 0)
            | Mux(body_onehot[_BODY_DECISION], self.decision, 0)
            | Mux(body_onehot[_BODY_WORD], ack_word, 0))

        def step():
            m.d.sync += [rd_idx.eq(rd_idx + 1), remaining.eq(remaining - 1),
                         more.eq(remaining != 1)]

        with m.If(fetching):
            with m.If(slot_body):
                with m.If(advance):
                    m.d.sync += have.eq(more)
                    with m.If(more):
                        step()
            with m.Else():
                with m.If(have & sink_ready):
                    m.d.sync += have.eq(0)
                with m.If(~have & more):
                    m.d.sync += phase.eq(phase + 1)
                    with m.If(phase == 2):
                        m.d.sync += [held.eq(word.word_select(rd_idx[:2], 8)), have.eq(1),
                                     phase.eq(0)]
                        step()

        def reply(type_, length, kind, *, owns=False, is_empty=None):
            m.d.sync += [r_type.eq(type_), r_seq.eq(d.seq), r_len.eq(length), body.eq(kind),
                         slot_body.eq(kind == _BODY_SLOT), body_onehot.eq(1 << kind),
                         owns_slot.eq(owns),
                         feed_next.eq(0),
                         r_empty.eq(is_empty if is_empty is not None else length == 0)]
            m.next = "SETUP"

        def fail(code, *, good):
            """Answer with an ERROR packet; a good frame's slot is released at once."""
            m.d.sync += [e_code.eq(code), e_type.eq(d.type), e_seq.eq(d.seq),
                         e_info.eq(d.info)]
            if good:
                m.d.comb += [self.events.error.eq(code), self.release.eq(1)]
            reply(Type.ERROR, ERROR_BYTES, _BODY_ERROR)

        det = self.det
        has_feed = self.info.person or det is not None
        is_det_grid = Signal()
        is_det_thr = Signal()
        det_len_ok = Signal()
        if det is not None:
            stride_bits = det.stride.bit_length() - 1
            n_w, n_t = det.writes
            grid_left = Signal(range(det.grid_bytes + 1), init=det.grid_bytes)
            w_count = Signal(range(n_w + 1))
            t_count = Signal(range(n_t + 1))
            loaded = Signal()
            grid_started = Signal()
            m.d.sync += [loaded.eq((w_count == n_w) & (t_count == n_t)),
                         grid_started.eq(grid_left != det.grid_bytes)]
            writes = Signal(range(self.max_payload + 1))
            m.d.comb += writes.eq(d.length >> stride_bits)
            # worked out in DECODE, so that DISPATCH starts from a flip-flop (the compare stays
            # out of the path into the grid counter and the grid-end pulse)
            grid_last = Signal()
            # the ack reports the bytes the grid still needs: what the counter holds after
            # the frame, 0 when the frame completed the grid (the counter starts over)
            m.d.comb += ack_word.eq(Mux(grid_left == det.grid_bytes, 0, grid_left))

        def feed(to):
            """Stream the frame's payload to `to` (SETUP goes on to FEED)."""
            m.d.sync += [r_len.eq(d.length), r_empty.eq(0), slot_body.eq(1),
                         body.eq(_BODY_SLOT), body_onehot.eq(1 << _BODY_SLOT),
                         feed_next.eq(1), feed_to.eq(to)]
            m.next = "SETUP"

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.desc.ready.eq(1)
                with m.If(self.desc.valid):
                    m.d.sync += d.eq(self.desc.payload)
                    m.next = "DECODE"
            with m.State("DECODE"):
                # flags from the registered descriptor, so that DISPATCH starts from flip-flops
                m.d.sync += [
                    is_err.eq(d.status != 0),
                    is_ping.eq(d.type == Type.PING),
                    is_info.eq(d.type == Type.INFO),
                    is_status.eq(d.type == Type.STATUS),
                    is_classify.eq(d.type == Type.CLASSIFY),
                    is_det.eq((d.type == Type.DET_WEIGHTS) | (d.type == Type.DET_THRESHOLDS)
                              | (d.type == Type.DET_GRID)),
                    empty.eq(d.length == 0),
                    one_vector.eq(d.length == self.info.feature_dim),
                    is_det_grid.eq(d.type == Type.DET_GRID),
                    is_det_thr.eq(d.type == Type.DET_THRESHOLDS),
                ]
                if det is not None:
                    m.d.sync += grid_last.eq(grid_left == d.length)
                    m.d.sync += det_len_ok.eq(Mux(
                        d.type == Type.DET_GRID, (d.length != 0) & (d.length <= grid_left),
                        (d.length != 0) & (d.length[:stride_bits] == 0)))
                m.next = "DISPATCH"
            with m.State("DISPATCH"):
                with m.If(is_err):
                    fail(d.status, good=False)
                with m.Elif(is_ping):
                    reply(Type.PONG, d.length, _BODY_SLOT, owns=True, is_empty=empty)
                with m.Elif(is_info | is_status):
                    with m.If(~empty):
                        fail(Error.BAD_LENGTH, good=True)
                    with m.Elif(is_info):
                        m.d.comb += self.release.eq(1)
                        reply(Type.INFO_REPLY, INFO_BYTES, _BODY_INFO)
                    with m.Else():
                        m.d.comb += [self.release.eq(1), self.status_snapshot.eq(1)]
                        reply(Type.STATUS_REPLY, STATUS_BYTES, _BODY_STATUS)
                with m.Elif(is_classify):
                    if self.info.person:
                        with m.If(~one_vector):
                            fail(Error.BAD_LENGTH, good=True)
                        with m.Else():
                            feed(_TO_PERSON)
                    else:
                        fail(Error.UNSUPPORTED, good=True)
                with m.Elif(is_det):
                    if det is None:
                        fail(Error.UNSUPPORTED, good=True)
                    else:
                        with m.If(~det_len_ok):
                            fail(Error.BAD_LENGTH, good=True)
                        with m.Elif(is_det_grid):
                            with m.If(~loaded):
                                fail(Error.BAD_ORDER, good=True)
                            with m.Else():
                                m.d.sync += grid_left.eq(grid_left - d.length)
                                with m.If(grid_last):
                                    m.d.sync += grid_left.eq(det.grid_bytes)
                                    m.d.comb += self.det_grid_end.eq(1)
                                feed(_TO_GRID)
                        with m.Elif(grid_started):
                            fail(Error.BAD_ORDER, good=True)
                        with m.Else():
                            m.next = "DET-WAIT"
                with m.Else():
                    fail(Error.BAD_TYPE, good=True)
            if det is not None:
                with m.State("DET-WAIT"):
                    # a load waits until the detector holds no grid
                    with m.If(self.det_idle):
                        with m.If(is_det_thr):
                            m.d.sync += t_count.eq(Mux(t_count + writes >= n_t, n_t,
                                                       t_count + writes))
                        with m.Else():
                            m.d.sync += w_count.eq(Mux(w_count + writes >= n_w, n_w,
                                                       w_count + writes))
                        feed(_TO_LOAD)
            with m.State("SETUP"):
                m.d.sync += [rd_idx.eq(0), remaining.eq(r_len), more.eq(~r_empty), have.eq(0),
                             phase.eq(0), hidx.eq(0), fetching.eq(1)]
                if has_feed:
                    with m.If(feed_next):
                        m.next = "FEED"
                    with m.Else():
                        m.next = "HEADER"
                else:
                    m.next = "HEADER"
            if has_feed:
                with m.State("FEED"):
                    targets = []
                    if self.info.person:
                        targets.append((_TO_PERSON, self.person_i, self.buf.data))
                    if det is not None:
                        targets += [(_TO_GRID, self.det_i, self.buf.data),
                                    (_TO_LOAD, self.det_load,
                                     {"data": self.buf.data, "kind": is_det_thr})]
                    for to, port, payload in targets:
                        if isinstance(payload, dict):
                            m.d.comb += [port.payload.data.eq(payload["data"]),
                                         port.payload.kind.eq(payload["kind"])]
                        else:
                            m.d.comb += port.payload.eq(payload)
                        with m.If(feed_to == to):
                            m.d.comb += [port.valid.eq(have), sink_ready.eq(port.ready)]
                    with m.If(~more & ~have):
                        m.d.comb += self.release.eq(1)
                        m.d.sync += fetching.eq(0)
                        with m.Switch(feed_to):
                            if self.info.person:
                                with m.Case(_TO_PERSON):
                                    m.next = "DECIDE"
                            with m.Case(_TO_GRID):
                                reply(Type.DET_GRID_ACK, 4, _BODY_WORD)
                            with m.Default():
                                reply(Mux(is_det_thr, Type.DET_THRESHOLDS_ACK,
                                          Type.DET_WEIGHTS_ACK), 0, _BODY_DECISION)
            if self.info.person:
                with m.State("DECIDE"):
                    m.d.comb += self.person_o.ready.eq(1)
                    with m.If(self.person_o.valid):
                        m.d.comb += self.events.image.eq(1)
                        m.d.sync += self.decision.eq(self.person_o.payload)
                        reply(Type.DECISION, 1, _BODY_DECISION)
            with m.State("HEADER"):
                hdr = [r_type, r_seq, r_len[:8], r_len[8:16] if len(r_len) > 8 else Const(0, 8)]
                with m.Switch(hidx):
                    for k, v in enumerate(hdr):
                        with m.Case(k):
                            m.d.comb += self.o.payload.data.eq(v)
                m.d.comb += [self.o.valid.eq(1),
                             self.o.payload.last.eq((hidx == 3) & r_empty)]
                with m.If(self.o.ready):
                    m.d.sync += hidx.eq(hidx + 1)
                    with m.If(hidx == 3):
                        with m.If(r_empty):
                            m.d.comb += self.release.eq(owns_slot)  # an empty PONG
                            m.d.sync += fetching.eq(0)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "BODY"
            with m.State("BODY"):
                m.d.comb += [
                    self.o.valid.eq(have),
                    self.o.payload.data.eq(Mux(slot_body, self.buf.data, held)),
                    self.o.payload.last.eq(~more),
                    sink_ready.eq(self.o.ready),
                ]
                with m.If(have & self.o.ready & ~more):
                    m.d.comb += self.release.eq(owns_slot)
                    m.d.sync += fetching.eq(0)
                    m.next = "IDLE"
        return m
