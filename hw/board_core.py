"""``BoardCore``: everything a board does between its UART and its designs, without pins.

::

    i ─▶ Deframer ─▶ descriptor FIFO ─▶ LinkController ─▶ reply queue ─▶ mux ─▶ Framer ─▶ o
            │  payload buffer (slots × max_payload bytes) ▲   │ ▲   │ │            ▲
            └──────────────────────────────────────────────┘   ▼ │   ▼ │            │
                                               PersonClassifier   ByteDetector ─▶ records
                                                                                 into packets

The detector's records leave as packets of their own (one DETECTIONS or FRAME_DONE packet
per record, docs/link.md), merged with the replies a whole packet at a time: they never
wait for the command FSM, which may itself be waiting for the detector to take a grid's
bytes, so no order of commands can deadlock the two.

The board tops (``fpga/board_top.py``) put a UART receiver before ``i`` and a transmitter
after ``o``; the tests drive ``i`` and ``o`` directly, a byte a cycle.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.detector_formats import DetectorShape
from ..golden.link.frames import MAX_PAYLOAD, Type
from ..golden.link.replies import LinkInfo, person_config_id
from .byte_detector import ByteDetector
from .deframer import Deframer, descriptor_layout
from .framer import PACKET_BYTE, Framer
from .link_controller import LinkController
from .link_status import UART_EVENTS, LinkStatus
from .person_classifier import PersonClassifier
from .stream import SkidBuffer, StreamFIFO, StreamRegister

__all__ = ["BoardCore", "ACTIVITY", "link_info"]

#: What the board shows on its LEDs: pulses (rx, tx, error) and the last decision.
ACTIVITY = data.StructLayout({"rx": 1, "tx": 1, "error": 1, "person": 1})


def link_info(*, clk_hz, baud, person, timeout_cycles, max_payload=MAX_PAYLOAD,
              slots=2, detector: DetectorShape | None = None) -> LinkInfo:
    """What a :class:`BoardCore` with these parameters reports in INFO."""
    return LinkInfo(
        **(detector.info() if detector is not None else {}),
        person=person is not None,
        detector=detector is not None,
        form=person[1] if person is not None else None,
        slots=slots,
        max_payload=max_payload,
        feature_dim=person[0].feature_dim if person is not None else 768,
        clock_hz=int(clk_hz),
        baud=int(baud),
        timeout_us=int(round(timeout_cycles * 1e6 / clk_hz)),
        config_id=person_config_id(person[0]) if person is not None else bytes(8),
    )


class BoardCore(wiring.Component):
    """The host link and the designs behind it, between two byte streams.

    Parameters
    ----------
    clk_hz, baud : int
        The ``sync`` clock and the UART's rate (reported by INFO; ``clk_hz`` also turns
        ``timeout_us`` into cycles).
    person : (PersonConfig, form, pipeline) or None
        The person classifier to build (its thresholds are constants of the bitstream).
    detector : dict or None
        The keyword arguments of the :class:`~vitgates.hw.cofiber_detector.CofiberDetector`
        to build behind a :class:`~vitgates.hw.byte_detector.ByteDetector` (grid, channels,
        n_classes, box_rows, folding, mul, ram, fifo_depth), or None for none.
    timeout_us : int
        A silence this long inside a frame aborts it (TIMEOUT).
    timeout_cycles : int or None
        Overrides ``timeout_us`` (simulation).
    max_payload, slots, error_room : int
        Payload slot size (a power of two), number of slots (the window), and how many
        error descriptors may wait beside the slots' descriptors.
    status_copies : bool
        Keep a snapshot copy of the counters for STATUS (:class:`LinkStatus`; False saves
        about 300 flip-flops: the UP5K's link-and-detector bitstream).

    Attributes
    ----------
    i : In(stream.Signature(8))
        Bytes from the host, taken at most every other cycle (a UART delivers one every 10
        bit times).
    o : Out(stream.Signature(8))
        Bytes to the host; waits on ``ready``.
    uart : In(UART_EVENTS)
        Line errors of the UART receiver, for the counters.
    activity : Out(ACTIVITY)
        For LEDs (registered).

    Resources: the buffer is ``slots · max_payload`` bytes of block RAM (4 EBR on the
    iCE40 for 2 × 1024); the rest is logic (see ``build/reports/synth-board-*``).
    """

    i: In(stream.Signature(8))
    o: Out(stream.Signature(8))
    uart: In(UART_EVENTS)
    activity: Out(ACTIVITY)

    def __init__(self, *, clk_hz: int, baud: int, person=None, timeout_us: int = 20_000,
                 timeout_cycles: int | None = None, max_payload: int = MAX_PAYLOAD,
                 slots: int = 2, error_room: int = 2, detector: dict | None = None,
                 status_copies: bool = True):
        self.person = person
        self.status_copies = status_copies
        self.detector = None
        if detector is not None:
            self.detector = ByteDetector(**detector)
        det_shape = (DetectorShape.of(self.detector.detector) if self.detector is not None
                     else None)
        if person is not None:
            cfg, form, pipeline = person
            self.person_config, self.form, self.pipeline = cfg, form, pipeline
        self.timeout_cycles = (timeout_cycles if timeout_cycles is not None
                               else max(2, round(timeout_us * clk_hz / 1e6)))
        self.info = link_info(clk_hz=clk_hz, baud=baud, person=person,
                              timeout_cycles=self.timeout_cycles, max_payload=max_payload,
                              slots=slots, detector=det_shape)
        self.queue_depth = slots + error_room
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        info = self.info
        layout = descriptor_layout(info.max_payload, info.slots)

        m.submodules.deframer = deframer = Deframer(
            max_payload=info.max_payload, slots=info.slots, queue_depth=self.queue_depth,
            timeout_cycles=self.timeout_cycles)
        m.submodules.queue = queue = StreamFIFO(layout, self.queue_depth)
        m.submodules.buffer = buffer = memory.Memory(
            shape=8, depth=info.slots * info.max_payload, init=[])
        m.submodules.controller = ctrl = LinkController(info)
        m.submodules.status = status = LinkStatus(copies=self.status_copies)
        m.submodules.framer = framer = Framer()

        wiring.connect(m, wiring.flipped(self.i), deframer.i)
        # The deframer queues a descriptor only when the FIFO has room (see Deframer).
        wiring.connect(m, deframer.desc, queue.i)
        wiring.connect(m, queue.o, ctrl.desc)
        m.d.comb += [
            deframer.level.eq(queue.level),
            deframer.release.eq(ctrl.release),
        ]
        wp = buffer.write_port()
        rp = buffer.read_port(domain="sync")
        m.d.comb += [
            wp.addr.eq(deframer.buf.addr), wp.data.eq(deframer.buf.data),
            wp.en.eq(deframer.buf.en),
            rp.addr.eq(ctrl.buf.addr), rp.en.eq(ctrl.buf.en), ctrl.buf.data.eq(rp.data),
        ]
        m.d.comb += [
            status.deframer.eq(deframer.events),
            status.controller.eq(ctrl.events),
            status.uart.eq(self.uart),
            status.snapshot.eq(ctrl.status_snapshot),
            status.word_index.eq(ctrl.status_index),
            ctrl.status_word.eq(status.word),
        ]
        # A FIFO after the controller makes its `ready` a flip-flop's instead of a chain
        # through the framer; a register after the framer cuts its CRC path off the
        # transmitter.
        # The controller sees `ready` from a flip-flop: room for one more reply byte, judged
        # a cycle late with a place to spare.
        # A register first: a PONG's bytes come straight from the buffer's read port, whose
        # clock-to-output is long on the ECP5 (no output register in the block RAM).
        m.submodules.reply_reg = reply_reg = StreamRegister(PACKET_BYTE)
        wiring.connect(m, ctrl.o, reply_reg.i)
        m.submodules.reply_queue = reply_queue = StreamFIFO(PACKET_BYTE, 4)
        reply_room = Signal()
        m.d.sync += reply_room.eq(reply_queue.level < reply_queue.depth - 1)
        m.d.comb += [
            reply_queue.i.payload.eq(reply_reg.o.payload),
            reply_queue.i.valid.eq(reply_reg.o.valid & reply_room),
            reply_reg.o.ready.eq(reply_room),
        ]
        if self.detector is None:
            wiring.connect(m, reply_queue.o, framer.i)
        else:
            self._detector(m, ctrl, reply_queue, framer)
        m.submodules.frame_reg = frame_reg = StreamRegister(8)
        wiring.connect(m, framer.o, frame_reg.i)
        wiring.connect(m, frame_reg.o, wiring.flipped(self.o))

        if self.person is not None:
            m.submodules.person = person = PersonClassifier(
                self.person_config, form=self.form, pipeline=self.pipeline)
            # a register before the classifier: its input `valid` fans out to the capture
            # enables of all 40 selected channels
            m.submodules.person_reg = person_reg = StreamRegister(signed(8))
            wiring.connect(m, ctrl.person_i, person_reg.i)
            wiring.connect(m, person_reg.o, person.i)
            # The controller takes each decision before it feeds the next vector, so one
            # decision at most waits: the decision FIFO always has room and the classifier's
            # output is always ready. Its stages then never stall, and its handshake logic
            # reduces to constants.
            m.submodules.decision_queue = decision_queue = StreamFIFO(1, 2)
            m.d.comb += [
                person.o.ready.eq(1),
                decision_queue.i.payload.eq(person.o.payload),
                decision_queue.i.valid.eq(person.o.valid),
            ]
            wiring.connect(m, decision_queue.o, ctrl.person_o)

        m.d.sync += [
            self.activity.rx.eq(deframer.events.rx_byte),
            self.activity.tx.eq(self.o.valid & self.o.ready),
            self.activity.error.eq((deframer.events.error != 0) | (ctrl.events.error != 0)
                                   | self.uart.framing | self.uart.overrun),
            self.activity.person.eq(ctrl.decision),
        ]
        return m

    def _detector(self, m, ctrl, reply_queue, framer):
        """The detector: commands from the controller, records into packets of their own,
        merged with the replies before the framer."""
        m.submodules.detector = bd = self.detector
        wiring.connect(m, ctrl.det_i, bd.i)
        wiring.connect(m, ctrl.det_load, bd.load)

        # records into packets: type (FRAME_DONE for the end record), seq (a count of these
        # packets), length, then the record's bytes. A skid buffer first: the record bytes'
        # `ready` reaches the detector's output stage, whose enable spans its pipeline.
        m.submodules.record_skid = skid = SkidBuffer(8)
        wiring.connect(m, bd.o, skid.i)
        rec = skid.o
        nr = bd.record_bytes
        pk_valid, pk_last, pk_ready = Signal(), Signal(), Signal()
        pk_data = Signal(8)
        seq = Signal(8)
        hidx = Signal(range(4))
        bidx = Signal(range(nr))
        is_end = Signal()
        end_sent = Signal()
        kind = Mux(rec.payload[0], Type.FRAME_DONE, Type.DETECTIONS)
        with m.FSM(name="records"):
            with m.State("HEADER"):
                with m.Switch(hidx):
                    for k, v in enumerate([kind, seq, Const(nr & 0xFF, 8), Const(nr >> 8, 8)]):
                        with m.Case(k):
                            m.d.comb += pk_data.eq(v)
                m.d.comb += pk_valid.eq(rec.valid)
                with m.If(pk_valid & pk_ready):
                    m.d.sync += hidx.eq(hidx + 1)
                    with m.If(hidx == 3):
                        m.d.sync += [is_end.eq(rec.payload[0]), bidx.eq(0)]
                        m.next = "BODY"
            with m.State("BODY"):
                m.d.comb += [pk_valid.eq(rec.valid), pk_data.eq(rec.payload),
                             pk_last.eq(bidx == nr - 1), rec.ready.eq(pk_ready)]
                with m.If(pk_valid & pk_ready):
                    m.d.sync += bidx.eq(bidx + 1)
                    with m.If(pk_last):
                        m.d.sync += [seq.eq(seq + 1), hidx.eq(0)]
                        m.d.comb += end_sent.eq(is_end)
                        m.next = "HEADER"

        # grids handed to the detector whose end record has not left: a load waits for none
        # (the pulses are registered first: they end long paths in the controller and in
        # the packet FSM; a load waits for `idle` anyway)
        pending = Signal(4)
        grid_end = Signal()
        frame_out = Signal()
        idle = Signal(init=1)
        m.d.sync += [grid_end.eq(ctrl.det_grid_end), frame_out.eq(end_sent),
                     pending.eq(pending + grid_end - frame_out),
                     idle.eq((pending == 0) & ~grid_end & ~ctrl.det_grid_end)]
        m.d.comb += ctrl.det_idle.eq(idle)

        # the merge: a packet at a time, replies first; the choice is kept from the cycle a
        # packet's first byte is offered (the framer sends the magic before taking it)
        locked, owner, sel = Signal(), Signal(), Signal()
        m.d.comb += [
            sel.eq(Mux(locked, owner, ~reply_queue.o.valid)),
            framer.i.valid.eq(Mux(sel, pk_valid, reply_queue.o.valid)),
            framer.i.payload.eq(Mux(sel, Cat(pk_data, pk_last), reply_queue.o.payload.as_value())),
            reply_queue.o.ready.eq(~sel & framer.i.ready),
            pk_ready.eq(sel & framer.i.ready),
        ]
        with m.If(~locked & framer.i.valid):
            m.d.sync += [locked.eq(1), owner.eq(sel)]
        with m.If(framer.i.valid & framer.i.ready & framer.i.payload.last):
            m.d.sync += locked.eq(0)
