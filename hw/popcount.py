"""``PopcountClassifier``: the person classifier of seed 000, stage 5b, in gates.

Golden twin: :func:`vitgates.golden.person.ref_popcount`.
"""

from .person_core import N_INPUTS, PersonCore

__all__ = ["PopcountClassifier"]


class PopcountClassifier(PersonCore):
    """Person iff at least ``K`` of the 40 per-dimension comparisons hold.

    Bit ``k`` is ``x[k] > t[k]`` for the 20 positive dimensions and ``x[k] < t[k]`` for the
    20 negative ones. Thresholds and ``K`` come from the :class:`PersonConfig` and are baked
    in as constants: a comparison with a constant is a short carry chain (``hw/gates.py``),
    where a register-loaded threshold would need a full comparator per dimension. The 40
    bits go through a full-adder tree to a 6-bit count, compared with ``K`` the same way.

    Interface, latency and throughput: :class:`PersonCore`.
    """

    @classmethod
    def decision(cls, gates, x, config):
        t = config.dim_thresholds
        n_pos = len(config.pos_dims)
        bits = [
            gates.gt_const(x[k], t[k]) if k < n_pos else gates.lt_const(x[k], t[k])
            for k in range(N_INPUTS)
        ]
        count = gates.ripple({0: bits})
        return gates.gt_const(count, config.K - 1, signed=False)
