"""``PersonClassifier``: a pooled feature vector in, one bit per image out."""

from amaranth import Module, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.person_config import PersonConfig
from .feature_select import FeatureSelect
from .popcount import PopcountClassifier
from .sumdiff import SumDiffClassifier

__all__ = ["PersonClassifier", "FORMS"]

#: form name -> core component
FORMS = {"popcount": PopcountClassifier, "sumdiff": SumDiffClassifier}


class PersonClassifier(wiring.Component):
    """:class:`FeatureSelect` followed by a person-classifier core.

    Parameters
    ----------
    config : PersonConfig
        Dimensions, thresholds (baked in as constants).
    form : "popcount" or "sumdiff"
        Which core decides (``PopcountClassifier`` or ``SumDiffClassifier``).
    pipeline : int
        Register stages of the core (see the core's docstring).

    Attributes
    ----------
    i : In(stream.Signature(signed(8)))
        The 768 INT8 channels of one pooled feature vector, channel 0 first, then the next
        vector.
    o : Out(stream.Signature(1))
        One decision per vector (1: person).

    Throughput: one channel per cycle, so ``feature_dim`` cycles per image when both sides
    keep up. Latency from the last channel to the decision: ``1 + pipeline`` cycles.
    Golden twin: ``ref_popcount(select(q, config), config)`` or ``ref_sumdiff(...)`` in
    :mod:`vitgates.golden.person`.
    """

    i: In(stream.Signature(signed(8)))
    o: Out(stream.Signature(1))

    def __init__(self, config: PersonConfig, *, form: str = "popcount", pipeline: int = 1):
        if form not in FORMS:
            raise ValueError(f"form must be one of {sorted(FORMS)}, got {form!r}")
        self.config = config
        self.form = form
        self.select = FeatureSelect(config.dims, n_channels=config.feature_dim)
        self.core = FORMS[form](config, pipeline=pipeline)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.select = self.select
        m.submodules.core = self.core
        wiring.connect(m, wiring.flipped(self.i), self.select.i)
        wiring.connect(m, self.select.o, self.core.i)
        wiring.connect(m, self.core.o, wiring.flipped(self.o))
        return m
