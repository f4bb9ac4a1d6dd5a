"""``LinkStatus``: the link's counters, and a consistent snapshot of them read word by word."""

from amaranth import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..golden.link.frames import Error
from ..golden.link.replies import COUNTERS
from .deframer import DEFRAMER_EVENTS

__all__ = ["LinkStatus", "CONTROLLER_EVENTS", "UART_EVENTS"]

#: One-cycle pulses from the command FSM.
CONTROLLER_EVENTS = data.StructLayout({
    "error": 4,  # error code raised by a command (0: none)
    "image": 1,  # a CLASSIFY frame was answered
})

#: One-cycle pulses from the UART receiver.
UART_EVENTS = data.StructLayout({"framing": 1, "overrun": 1})


class LinkStatus(wiring.Component):
    """Count link events; on ``snapshot`` copy every counter; serve the copy as bytes.

    Parameters
    ----------
    copies : bool
        With False, no snapshot copy is kept (``snapshot`` is ignored) and ``word`` reads
        the live counters: about 300 flip-flops fewer, which is what lets the link and the
        detector share the iCE40UP5K; STATUS then counts, in each counter, the events up
        to the moment its word is read (the same figures when nothing else is in flight),
        and ``word`` follows ``word_index`` in the same cycle.

    The counters and their widths are :data:`vitgates.golden.link.replies.COUNTERS`; each wraps at
    its width. Several events may arrive in one cycle (a deframer error and a command error
    of the same code count twice).

    Attributes
    ----------
    deframer : In(DEFRAMER_EVENTS)
    controller : In(CONTROLLER_EVENTS)
    uart : In(UART_EVENTS)
    snapshot : In(1)
        Pulse: copy all counters in the next cycle (the events of the pulse's cycle are
        not in the copy: counting lags the events by one register).
    word_index : In(range(len(COUNTERS)))
        Which counter of the copy to read (the STATUS payload sends each as a u32).
    word : Out(32)
        That counter of the copy, zero-extended, one cycle after ``word_index`` (registered:
        the 16-way multiplexer ends at a flip-flop); the copy of a snapshot is readable
        from the second cycle after its pulse.
    """

    deframer: In(DEFRAMER_EVENTS)
    controller: In(CONTROLLER_EVENTS)
    uart: In(UART_EVENTS)
    snapshot: In(1)
    word_index: In(range(len(COUNTERS)))
    word: Out(32)

    def __init__(self, *, copies: bool = True):
        self.copies = copies
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        # events are registered first: counting starts from flip-flops
        d = Signal.like(self.deframer)
        c = Signal.like(self.controller)
        u = Signal.like(self.uart)
        m.d.sync += [d.eq(self.deframer), c.eq(self.controller), u.eq(self.uart)]
        incr = {
            "rx_bytes": d.rx_byte,
            "frames_ok": d.frame_ok,
            "images": c.image,
            "skipped_bytes": d.skipped,
            "uart_framing": u.framing,
            "uart_overrun": u.overrun,
            "unreported": d.unreported,
        }
        for e in Error:
            incr[f"err_{e.name.lower()}"] = (d.error == e) + (c.error == e)

        # the snapshot pulse is registered too: it enables every copy flip-flop (a global
        # buffer on the iCE40), and must start from a flip-flop of its own
        snap = Signal()
        m.d.sync += snap.eq(self.snapshot)
        copies = []
        for name, width in COUNTERS:
            count = Signal(width, name=name)
            copy = Signal(width, name=f"{name}_copy")
            m.d.sync += count.eq(count + incr[name])
            if self.copies:
                with m.If(snap):
                    m.d.sync += copy.eq(count)
                copies.append(copy)
            else:
                copies.append(count)
        # without copies the word is not registered either (the controller registers it)
        domain = m.d.sync if self.copies else m.d.comb
        with m.Switch(self.word_index):
            for k, copy in enumerate(copies):
                with m.Case(k):
                    domain += self.word.eq(copy)
        return m
