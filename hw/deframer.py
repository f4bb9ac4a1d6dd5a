"""``Deframer``: the host's byte stream into checked frames, their payloads into a buffer.

The frame format and every rule are those of :class:`vitgates.golden.link.deframer.Deframer` (the
reference this component equals) and docs/link.md.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.link.frames import MAGIC, Error
from .crc import CRC8, CRC16, crc_next

__all__ = ["Deframer", "descriptor_layout", "DEFRAMER_EVENTS"]


def descriptor_layout(max_payload: int, slots: int) -> data.StructLayout:
    """What the deframer tells the command FSM about each frame.

    ``status`` 0: a good frame whose payload is in buffer slot ``slot``; otherwise the
    :class:`~vitgates.golden.link.frames.Error` code of a rejected frame (no slot). ``type`` and
    ``seq`` are 0 when the header was unreadable; ``info`` is the first stray byte of a
    BAD_MAGIC.
    """
    return data.StructLayout({
        "status": 4,
        "type": 8,
        "seq": 8,
        "length": range(max_payload + 1),
        "slot": range(slots),
        "info": 8,
    })


#: One-cycle event pulses, for the status counters.
DEFRAMER_EVENTS = data.StructLayout({
    "rx_byte": 1,  # a byte arrived
    "skipped": 2,  # bytes skipped outside frames this cycle (0..2)
    "frame_ok": 1,  # a good frame was committed to a slot
    "error": 4,  # error code raised this cycle (0: none)
    "unreported": 1,  # ... and it found no room in the reply queue
})


class Deframer(wiring.Component):
    """Check frames byte by byte; store good payloads; describe every frame or error.

    Parameters
    ----------
    max_payload : int
        Largest payload accepted; a power of two (the size of a buffer slot).
    slots : int
        Payload slots in the buffer (the window of frames the host may have in flight).
    queue_depth : int
        Depth of the descriptor FIFO behind ``desc`` (at least ``slots + 1``).
    timeout_cycles : int
        A silence this long inside a frame aborts it with TIMEOUT.

    Attributes
    ----------
    i : In(stream.Signature(8))
        Bytes from the host, taken at most every other cycle (``ready`` is low in the cycle
        after a byte was taken; a UART delivers one every 10 bit times).
    desc : Out(stream.Signature(descriptor_layout(max_payload, slots)))
        One descriptor per good frame and per error, each ``valid`` for one cycle and only
        when the FIFO behind has room (``ready`` is not looked at): errors are
        queued only while ``level`` leaves a place for every slot (so a good frame always
        finds one); an error that finds none is counted (``events.unreported``) and dropped.
    level : In(range(queue_depth + 1))
        Fill level of the descriptor FIFO.
    buf : In(memory.WritePort.Signature(addr_width=log2(slots · max_payload), shape=8))
        Write port of the payload buffer: slot ``s`` holds bytes ``s · max_payload ...``.
    release : In(1)
        Pulse: the command FSM is done with the oldest occupied slot.
    events : Out(DEFRAMER_EVENTS)
        Pulses for the counters.

    Latency: a frame's descriptor (and the events of a byte) are valid 4 cycles after its
    last byte was taken on ``i``: two input registers, the frame state machine, and the
    verdict's register before it is queued.
    """

    def __init__(self, *, max_payload: int, slots: int, queue_depth: int, timeout_cycles: int):
        if max_payload < 1 or max_payload & (max_payload - 1):
            raise ValueError("max_payload must be a power of two")
        if slots < 1 or slots & (slots - 1):
            raise ValueError("slots must be a power of two")
        if queue_depth < slots + 1:
            raise ValueError("queue_depth must be at least slots + 1")
        if timeout_cycles < 2:
            raise ValueError("timeout_cycles must be at least 2")
        self.max_payload = max_payload
        self.slots = slots
        self.queue_depth = queue_depth
        self.timeout_cycles = timeout_cycles
        self.addr_width = (max_payload * slots - 1).bit_length()
        super().__init__({
            "i": In(stream.Signature(8)),
            "desc": Out(stream.Signature(descriptor_layout(max_payload, slots))),
            "level": In(range(queue_depth + 1)),
            "buf": In(memory.WritePort.Signature(addr_width=self.addr_width, shape=8)),
            "release": In(1),
            "events": Out(DEFRAMER_EVENTS),
        })

    def elaborate(self, platform):
        m = Module()
        # A byte is taken at most every other cycle and goes through two registers: the
        # first holds it while it is compared with the magic and with the CRC registers
        # (which the previous byte has finished updating by then), the second holds it and
        # the results of the comparisons for the frame state machine. Every check starts and
        # ends at a flip-flop.
        took = Signal()
        b0 = Signal(8)
        got0 = Signal()
        m.d.comb += self.i.ready.eq(~took)
        m.d.sync += [took.eq(self.i.valid & ~took), b0.eq(self.i.payload),
                     got0.eq(self.i.valid & ~took)]
        b = Signal(8)
        got = Signal()
        is_m0 = Signal()
        is_m1 = Signal()
        hcrc_ok = Signal()  # b is the CRC-8 of the header bytes so far
        hi_ok = Signal()  # b is the high byte of the CRC-16 so far
        lo_ok = Signal()  # b is its low byte
        crc8 = Signal(8)  # CRC-8 of the header bytes so far
        crc16 = Signal(16)  # CRC-16 of the checked bytes so far (not the CRC itself)
        m.d.sync += [b.eq(b0), got.eq(got0), is_m0.eq(b0 == MAGIC[0]),
                     is_m1.eq(b0 == MAGIC[1]), hcrc_ok.eq(b0 == crc8),
                     hi_ok.eq(b0 == crc16[8:]), lo_ok.eq(b0 == crc16[:8])]

        # The verdict on a byte (a good frame, an error, skipped bytes) is registered and
        # acted on in the next cycle: its descriptor is built from the frame registers
        # (stable for two cycles after any verdict: a new header needs the magic first),
        # queued when there is room, and counted.
        err = Signal(4)  # error code of this byte's verdict (0: none)
        known = Signal()  # ... and the frame's type and seq are known
        good = Signal()  # a good frame ends here
        info = Signal(8)
        skipped = Signal(2)
        pend_err = Signal(4)
        pend_known = Signal()
        pend_good = Signal()
        pend_info = Signal(8)
        pend_rx = Signal()
        pend_skipped = Signal(2)
        m.d.sync += [pend_err.eq(err), pend_known.eq(known), pend_good.eq(good),
                     pend_info.eq(info), pend_rx.eq(got), pend_skipped.eq(skipped)]

        # -- silence timer -------------------------------------------------------------------
        # `timeout` is a registered pulse, timeout_cycles + 1 cycles after the last byte (a
        # byte arriving in that very cycle wins).
        idle = Signal(range(self.timeout_cycles + 1))
        timeout = Signal()
        m.d.sync += timeout.eq(0)
        with m.If(got):
            m.d.sync += idle.eq(0)
        with m.Elif(idle != self.timeout_cycles):
            m.d.sync += [idle.eq(idle + 1), timeout.eq(idle == self.timeout_cycles - 1)]

        # -- slots ---------------------------------------------------------------------------
        occupied = Signal(range(self.slots + 1))
        wslot = Signal(range(self.slots))
        commit = Signal()
        released = Signal()  # registered: a slot counts as occupied one cycle longer
        m.d.comb += commit.eq(pend_good)
        m.d.sync += [released.eq(self.release), occupied.eq(occupied + commit - released)]
        with m.If(commit):
            m.d.sync += wslot.eq(wslot + 1)

        # -- frame state ---------------------------------------------------------------------
        in_run = Signal()  # inside a run of stray bytes: no further BAD_MAGIC
        hsel = Signal(5)  # one-hot position in the header (and in the CRC: bits 0, 1)
        head = Signal(data.ArrayLayout(8, 4))  # type, seq, length low, length high
        length = Signal(16)
        too_long = Signal()
        len_zero = Signal()
        len_one = Signal()
        last = Signal()  # the payload byte in `b` is the last (left == 1)
        idx = Signal(range(self.max_payload))
        left = Signal(range(self.max_payload + 1))  # payload bytes still to come
        busy = Signal()  # the frame found no free slot: its payload is not stored
        crc_hi_ok = Signal()  # the first CRC byte matched
        ftype, fseq = head[0], head[1]

        # Comparing each CRC byte with the CRC of what came before is equivalent to checking
        # for a zero residue.
        def stray(first, count):
            m.d.comb += skipped.eq(count)
            with m.If(~in_run):
                m.d.comb += [err.eq(Error.BAD_MAGIC), info.eq(first)]
                m.d.sync += in_run.eq(1)

        with m.FSM():
            with m.State("HUNT"):
                with m.If(got):
                    with m.If(is_m0):
                        m.next = "MAGIC1"
                    with m.Else():
                        stray(b, 1)
                with m.Elif(timeout):
                    m.d.sync += in_run.eq(0)
            with m.State("MAGIC1"):
                with m.If(got):
                    with m.If(is_m1):
                        m.d.sync += [hsel.eq(1), crc8.eq(0), crc16.eq(0xFFFF)]
                        m.next = "HEADER"
                    with m.Elif(is_m0):
                        stray(MAGIC[0], 1)
                    with m.Else():
                        stray(MAGIC[0], 2)
                        m.next = "HUNT"
                with m.Elif(timeout):
                    stray(MAGIC[0], 1)
                    m.d.sync += in_run.eq(0)
                    m.next = "HUNT"
            with m.State("HEADER"):
                with m.If(got):
                    m.d.sync += [crc8.eq(crc_next(crc8, b, *CRC8)),
                                 crc16.eq(crc_next(crc16, b, *CRC16)), hsel.eq(hsel << 1)]
                    for k in range(4):
                        with m.If(hsel[k]):
                            m.d.sync += head[k].eq(b)
                    with m.If(hsel[3]):
                        length_now = Cat(head[2], b)
                        m.d.sync += [length.eq(length_now),
                                     too_long.eq(length_now > self.max_payload),
                                     len_zero.eq(length_now == 0), len_one.eq(length_now == 1)]
                    with m.If(hsel[4]):
                        with m.If(~hcrc_ok):
                            m.d.comb += err.eq(Error.BAD_HEADER)
                            m.d.sync += in_run.eq(1)
                            m.next = "HUNT"
                        with m.Elif(too_long):
                            m.d.comb += [err.eq(Error.BAD_LENGTH), known.eq(1)]
                            m.d.sync += in_run.eq(1)
                            m.next = "HUNT"
                        with m.Else():
                            m.d.sync += [in_run.eq(0), idx.eq(0), hsel.eq(1), left.eq(length),
                                         last.eq(len_one), busy.eq(occupied == self.slots)]
                            with m.If(len_zero):
                                m.next = "CRC"
                            with m.Else():
                                m.next = "PAYLOAD"
                with m.Elif(timeout):
                    m.d.comb += err.eq(Error.TIMEOUT)
                    m.d.sync += in_run.eq(0)
                    m.next = "HUNT"
            with m.State("PAYLOAD"):
                m.d.comb += [
                    self.buf.addr.eq(Cat(idx, wslot)),
                    self.buf.data.eq(b),
                    self.buf.en.eq(got & ~busy),
                ]
                with m.If(got):
                    m.d.sync += [crc16.eq(crc_next(crc16, b, *CRC16)), idx.eq(idx + 1),
                                 left.eq(left - 1), last.eq(left == 2)]
                    with m.If(last):
                        m.next = "CRC"
                with m.Elif(timeout):
                    m.d.comb += [err.eq(Error.TIMEOUT), known.eq(1)]
                    m.d.sync += in_run.eq(0)
                    m.next = "HUNT"
            with m.State("CRC"):
                with m.If(got):
                    m.d.sync += hsel.eq(hsel << 1)
                    with m.If(hsel[0]):
                        m.d.sync += crc_hi_ok.eq(hi_ok)
                    with m.Else():
                        m.next = "HUNT"
                        with m.If(~crc_hi_ok | ~lo_ok):
                            m.d.comb += [err.eq(Error.BAD_CRC), known.eq(1)]
                        with m.Elif(busy):
                            m.d.comb += [err.eq(Error.BUSY), known.eq(1)]
                        with m.Else():
                            m.d.comb += [good.eq(1), known.eq(1)]
                with m.Elif(timeout):
                    m.d.comb += [err.eq(Error.TIMEOUT), known.eq(1)]
                    m.d.sync += in_run.eq(0)
                    m.next = "HUNT"

        # -- the verdict of the previous cycle: queue it, count it ----------------------------
        # An error is queued only while every slot keeps a place in the FIFO.
        room = Signal()
        is_err = Signal()
        m.d.comb += [
            room.eq(self.level + self.slots < self.queue_depth),
            is_err.eq(pend_err != 0),
            self.desc.payload.status.eq(pend_err),
            self.desc.payload.type.eq(Mux(pend_known, ftype, 0)),
            self.desc.payload.seq.eq(Mux(pend_known, fseq, 0)),
            self.desc.payload.length.eq(length),
            self.desc.payload.slot.eq(wslot),
            self.desc.payload.info.eq(pend_info),
            self.desc.valid.eq(pend_good | (is_err & room)),
            self.events.rx_byte.eq(pend_rx),
            self.events.skipped.eq(pend_skipped),
            self.events.frame_ok.eq(pend_good),
            self.events.error.eq(pend_err),
            self.events.unreported.eq(is_err & ~room),
        ]
        return m
