"""``PersonCore``: the stream shell shared by the two person-classifier cores.

A core is a gate network (:class:`~vitgates.hw.gates.Gates`) computing one decision bit from
the 40 selected INT8 features, cut into ``pipeline`` stages, inside one stream handshake.
Subclasses provide :meth:`PersonCore.decision`;
:class:`~vitgates.hw.popcount.PopcountClassifier` and
:class:`~vitgates.hw.sumdiff.SumDiffClassifier` are the two in use.
"""

from amaranth import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.person_config import N_NEG, N_POS, PersonConfig
from .gates import Gates

__all__ = ["PersonCore", "N_INPUTS", "INPUT_LAYOUT"]

N_INPUTS = N_POS + N_NEG

#: Payload of the input stream: the 40 selected features, positive dims first.
INPUT_LAYOUT = data.ArrayLayout(signed(8), N_INPUTS)


class PersonCore(wiring.Component):
    """Stream shell: ``i`` carries the 40 selected features, ``o`` the decision bit.

    Attributes
    ----------
    i : In(stream.Signature(data.ArrayLayout(signed(8), 40)))
        Selected INT8 features in ``PersonConfig.dims`` order (positive, then negative).
    o : Out(stream.Signature(1))
        1 when the image holds a person.

    Latency ``pipeline`` cycles (a transfer on ``i`` appears on ``o`` that many cycles
    later); throughput one vector per cycle. The network is cut at ``pipeline - 1`` evenly
    spaced gate depths. All stages advance together when ``~o.valid | o.ready`` (which is
    also ``i.ready``), so a stall on ``o`` holds the whole pipeline: nothing is dropped or
    duplicated.
    """

    i: In(stream.Signature(INPUT_LAYOUT))
    o: Out(stream.Signature(1))

    def __init__(self, config: PersonConfig, *, pipeline: int = 1):
        if not isinstance(config, PersonConfig):
            raise TypeError("config must be a PersonConfig")
        if not 1 <= pipeline <= 8:
            raise ValueError(f"pipeline must be 1..8, got {pipeline}")
        self.config = config
        self.pipeline = pipeline
        super().__init__()

    @classmethod
    def decision(cls, gates: Gates, x: list, config: PersonConfig):
        """The decision of the 40 signed values ``x`` (each a list of 8 bits, LSB first).

        Returns a bit of ``gates`` (or a constant when the config makes it one).
        """
        raise NotImplementedError

    @classmethod
    def network(cls, config: PersonConfig, payload):
        """``(gates, decision_bit)`` built on an Amaranth value holding the 40 inputs."""
        gates = Gates()
        x = [gates.input(payload[k]) for k in range(N_INPUTS)]
        return gates, cls.decision(gates, x, config)

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        gates, person = self.network(self.config, self.i.payload)
        (person,) = gates.emit(m, [person], stages=self.pipeline, en=en)

        valid = self.i.valid
        for k in range(self.pipeline - 1):
            nxt = Signal(name=f"stage{k + 1}_valid")
            with m.If(en):
                m.d.sync += nxt.eq(valid)
            valid = nxt
        with m.If(en):
            m.d.sync += [self.o.valid.eq(valid), self.o.payload.eq(person)]
        return m
