"""``FeatureSelect``: gathers the configured dimensions from a stream of feature channels."""

from amaranth import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FeatureSelect"]


class FeatureSelect(wiring.Component):
    """Collect ``dims`` from one pooled feature vector streamed channel by channel.

    Parameters
    ----------
    dims : sequence of int
        Channel indices to keep, in output order (for the person classifier:
        ``PersonConfig.dims``, positive dimensions then negative ones).
    n_channels : int
        Channels per vector (768 for EUPE-ViT-B).
    width : int
        Bits per channel value (8: signed INT8).

    Attributes
    ----------
    i : In(stream.Signature(signed(width)))
        Channel values in order 0, 1, ..., ``n_channels - 1``, then the next vector.
    o : Out(stream.Signature(data.ArrayLayout(signed(width), len(dims))))
        The selected values of each vector.

    Timing: one channel per cycle; ``o`` is valid the cycle after the last channel of a
    vector was accepted. ``o.payload`` is the capture register itself, so while a vector
    waits on ``o`` (``o.valid & ~o.ready``) the input stalls; when ``o.ready`` is held high
    the input never stalls and a vector costs exactly ``n_channels`` cycles.
    """

    def __init__(self, dims, *, n_channels: int = 768, width: int = 8):
        dims = tuple(int(d) for d in dims)
        if not dims or len(set(dims)) != len(dims):
            raise ValueError("dims must be a non-empty list of distinct channels")
        if min(dims) < 0 or max(dims) >= n_channels:
            raise ValueError(f"dims must lie in 0..{n_channels - 1}")
        self._dims = dims
        self._n_channels = n_channels
        super().__init__({
            "i": In(stream.Signature(signed(width))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(width), len(dims)))),
        })

    def elaborate(self, platform):
        m = Module()
        channel = Signal(range(self._n_channels))

        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            for k, d in enumerate(self._dims):
                with m.If(channel == d):
                    m.d.sync += self.o.payload[k].eq(self.i.payload)
            with m.If(channel == self._n_channels - 1):
                m.d.sync += [channel.eq(0), self.o.valid.eq(1)]
            with m.Else():
                m.d.sync += channel.eq(channel + 1)
        return m
