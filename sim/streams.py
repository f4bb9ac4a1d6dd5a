"""cocotb drivers for Amaranth stream ports (``<name>__payload``, ``__valid``, ``__ready``).

:class:`StreamSource` drives a stream into the design with random idle cycles;
:class:`StreamSink` accepts from the design with random back-pressure and checks the
transfer rules on the way (once ``valid`` is high, ``valid`` and ``payload`` hold until the
transfer). Signals are sampled right after the rising edge, which yields their values from
before the edge: what the edge itself saw.
"""

import random

from cocotb.triggers import RisingEdge

__all__ = ["StreamSource", "StreamSink", "StreamRuleError"]


class StreamRuleError(AssertionError):
    """The design broke a stream transfer rule."""


class _Port:
    def __init__(self, dut, name):
        self.name = name
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")


class StreamSource(_Port):
    """Drive payloads (ints) into the design's input stream ``name``.

    ``pause``: probability of an idle cycle before each payload.
    """

    def __init__(self, dut, name, clock, *, pause=0.0, seed=0):
        super().__init__(dut, name)
        self.clock = clock
        self.pause = pause
        self.rng = random.Random(seed)
        self.sent = 0
        self.valid.value = 0

    async def send(self, payloads):
        for p in payloads:
            while self.pause and self.rng.random() < self.pause:
                self.valid.value = 0
                await RisingEdge(self.clock)
            self.payload.value = int(p)
            self.valid.value = 1
            while True:
                await RisingEdge(self.clock)
                if self.ready.value:
                    break
            self.sent += 1
        self.valid.value = 0


class StreamSink(_Port):
    """Accept payloads (ints) from the design's output stream ``name`` into :attr:`items`.

    ``pause``: probability that ``ready`` is low in a cycle. Raises
    :class:`StreamRuleError` (from :meth:`run`) when valid or payload change before the
    transfer.
    """

    def __init__(self, dut, name, clock, *, pause=0.0, seed=1):
        super().__init__(dut, name)
        self.clock = clock
        self.pause = pause
        self.rng = random.Random(seed)
        self.items = []
        self.ready.value = 0

    async def run(self):
        held = None  # payload offered while ready was low, which must be offered again
        while True:
            ready = not (self.pause and self.rng.random() < self.pause)
            self.ready.value = int(ready)
            await RisingEdge(self.clock)
            valid = bool(self.valid.value)
            if held is not None:
                if not valid:
                    raise StreamRuleError(f"{self.name}: valid dropped before the transfer")
                if int(self.payload.value) != held:
                    raise StreamRuleError(
                        f"{self.name}: payload changed before the transfer "
                        f"({held:#x} -> {int(self.payload.value):#x})"
                    )
            if valid and ready:
                self.items.append(int(self.payload.value))
                held = None
            elif valid:
                held = int(self.payload.value)

    async def wait_for(self, n, timeout_cycles):
        """Wait until ``n`` items arrived; fail after ``timeout_cycles`` cycles."""
        for _ in range(timeout_cycles):
            if len(self.items) >= n:
                return
            await RisingEdge(self.clock)
        raise AssertionError(
            f"{self.name}: {len(self.items)} of {n} items after {timeout_cycles} cycles"
        )
