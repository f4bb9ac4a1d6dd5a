"""``SumDiffClassifier``: the exact person classifier of seed 000, stages 0 and 5, in gates.

Golden twin: :func:`vitgates.golden.person.ref_sumdiff`.
"""

from .person_core import PersonCore

__all__ = ["SumDiffClassifier"]

#: Width of the final comparison: ``A − B − T − 1`` lies in [-10221, 10219].
_W = 15


class SumDiffClassifier(PersonCore):
    """Person iff ``Σ pos − Σ neg > T``, computed exactly (never wraps).

    A signed byte is ``low7 − 128·sign``, so ``s = A − B`` with two sums of plain bits:
    ``A = Σ_pos low7 + 128·Σ_neg sign`` and ``B = Σ_neg low7 + 128·Σ_pos sign``. Each is a
    full-adder tree down to two rows with no inverter at all; only B's two final rows are
    inverted (``−B = ~B1 + ~B2 + 2``), then ``A − B − T − 1`` is formed modulo ``2**15`` and
    the decision is the complement of its sign bit, read off a carry chain without
    computing the sum.

    Interface, latency and throughput: :class:`PersonCore`.
    """

    @classmethod
    def decision(cls, gates, x, config):
        n_pos = len(config.pos_dims)
        pos, neg = x[:n_pos], x[n_pos:]
        a = {w: [v[w] for v in pos] for w in range(7)}
        a[7] = [v[7] for v in neg]
        b = {w: [v[w] for v in neg] for w in range(7)}
        b[7] = [v[7] for v in pos]
        a_rows, b_rows = gates.compress(a), gates.compress(b)

        # A − B − T − 1 = A + ~B1 + ~B2 + 2 − T − 1 (mod 2**15), where ~B_r is the 15-bit
        # complement of row r: its present bits inverted, its absent positions constant ones.
        cols = {w: list(bits) for w, bits in a_rows.items()}
        constant = 1 - config.T
        for w in range(_W):
            bits = b_rows.get(w, [])
            cols.setdefault(w, []).extend(gates.not_(bit) for bit in bits)
            constant += (2 - len(bits)) << w
        constant %= 1 << _W
        for w in range(_W):
            if (constant >> w) & 1:
                cols[w].append(1)
        return gates.not_(gates.sum_msb(cols, _W))
