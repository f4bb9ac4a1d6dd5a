"""Gate networks: adders, compressor trees and comparators, built in AND, XOR and NOT.

The person-classifier cores are written directly in the gates the project counts in (see
``fpga/gates.py``) rather than as ``+`` and ``>`` on wide values, because the structure is
what keeps the mapped netlist small:

- a full adder is two XORs for the sum and ``(a & b) ^ (c & (a ^ b))`` for the carry: five
  gates and no inverter (the two AND terms never both hold, so XOR serves as OR);
- a multi-operand sum is a carry-save tree of full adders that always combines the three
  earliest-arriving bits of a column, so the depth stays logarithmic;
- a comparison with a constant is one carry chain whose every step is taken, by a small
  dynamic programme, in whichever polarity costs fewest gates.

:class:`Gates` records the network as a graph (structurally hashed: the same gate on the same
inputs exists once) and :meth:`Gates.emit` turns it into Amaranth signals, optionally cut
into pipeline stages at even gate depths. The combinational core that is counted and the
pipelined core that ships are the same graph. The comparator's dynamic programme is
:mod:`vitgates.golden.gate_cost`, shared with the fitting of thresholds that are cheap in gates.
"""

from amaranth.hdl import Cat, Const, Module, Signal, Value

from ..golden.gate_cost import free_inverted, plan_comparator

__all__ = ["Gates", "Node"]


class Node:
    """One gate (``op`` in "and", "xor", "not") or one input bit (``op == "in"``)."""

    __slots__ = ("op", "args", "depth", "index", "value")

    def __init__(self, op, args, depth, index, value=None):
        self.op, self.args, self.depth, self.index, self.value = op, args, depth, index, value

    def __repr__(self):
        return f"<Node {self.index} {self.op} d{self.depth}>"


class Gates:
    """A combinational network of AND, XOR and NOT gates.

    Bits are :class:`Node` objects or the Python constants 0 and 1; constant inputs are
    folded away as the network is built. Inputs enter through :meth:`input`.
    """

    def __init__(self):
        self.nodes: list[Node] = []
        self._hash = {}

    def _node(self, op, *args, value=None):
        key = (op, *sorted(a.index for a in args)) if op != "in" else None
        if key is not None and key in self._hash:
            return self._hash[key]
        depth = 1 + max(a.depth for a in args) if args else 0
        n = Node(op, args, depth, len(self.nodes), value)
        self.nodes.append(n)
        if key is not None:
            self._hash[key] = n
        return n

    def input(self, value) -> list:
        """The bits of an Amaranth value as input nodes, LSB first."""
        value = Value.cast(value)
        return [self._node("in", value=value[i]) for i in range(len(value))]

    # -- gates (with constant folding) -------------------------------------------------------

    def not_(self, a):
        if isinstance(a, int):
            return 1 - a
        if a.op == "not":
            return a.args[0]
        return self._node("not", a)

    def and_(self, a, b):
        if isinstance(a, int):
            a, b = b, a
        if isinstance(b, int):
            return a if b else 0
        if a is b:
            return a
        return self._node("and", a, b)

    def xor(self, a, b):
        if isinstance(a, int):
            a, b = b, a
        if isinstance(b, int):
            return self.not_(a) if b else a
        if a is b:
            return 0
        return self._node("xor", a, b)

    # -- adders ------------------------------------------------------------------------------

    def half_adder(self, a, b):
        """``(sum, carry)`` of two bits: one XOR, one AND."""
        return self.xor(a, b), self.and_(a, b)

    def full_adder(self, a, b, c):
        """``(sum, carry)`` of three bits: three XORs and two ANDs, no inverter."""
        t = self.xor(a, b)
        return self.xor(t, c), self.xor(self.and_(a, b), self.and_(c, t))

    @staticmethod
    def _depth(b):
        return 0 if isinstance(b, int) else b.depth

    def compress(self, columns, rows: int = 2):
        """Reduce weighted bits to at most ``rows`` (1 or 2) bits per column.

        ``columns`` maps a weight to a list of bits; the value ``Σ bit · 2**weight`` is kept.
        A column always combines its three earliest-arriving bits (its two earliest with a
        half adder, which happens only when ``rows == 1``). Constant ones are summed and
        re-entered as at most one constant bit per column.
        """
        if rows not in (1, 2):
            raise ValueError("rows must be 1 or 2")
        cols = {}
        for w, bits in columns.items():
            ones = sum(1 for b in bits if isinstance(b, int) and b)
            cols.setdefault(w, []).extend(b for b in bits if not isinstance(b, int))
            for k in range(ones.bit_length()):
                if (ones >> k) & 1:
                    cols.setdefault(w + k, []).append(1)
        w = min(cols, default=0)
        while cols and w <= max(cols):
            col = sorted(cols.get(w, []), key=self._depth)
            while len(col) > rows:
                if len(col) >= 3:
                    s, co = self.full_adder(*col[:3])
                    col = col[3:]
                else:
                    s, co = self.half_adder(*col[:2])
                    col = col[2:]
                if not (isinstance(s, int) and s == 0):
                    col.append(s)
                    col.sort(key=self._depth)
                if not (isinstance(co, int) and co == 0):
                    cols.setdefault(w + 1, []).append(co)
            cols[w] = col
            w += 1
        return {w: bits for w, bits in sorted(cols.items()) if bits}

    def ripple(self, columns) -> list:
        """The bits (LSB first) of the number ``Σ bit · 2**weight`` held in ``columns``."""
        single = self.compress(columns, rows=1)
        top = max(single, default=-1)
        return [single[w][0] if w in single else 0 for w in range(top + 1)]

    def sum_msb(self, columns, width: int):
        """Bit ``width - 1`` of ``Σ bit · 2**weight  mod 2**width``.

        The columns are compressed to two rows and only the carry into the top bit is
        computed (``c' = g ^ (p & c)``: generate and propagate never both hold).
        """
        two = self.compress({w: b for w, b in columns.items() if w < width}, rows=2)
        carry = 0
        for w in range(width - 1):
            bits = two.get(w, [])
            if len(bits) == 2:
                g, p = self.and_(bits[0], bits[1]), self.xor(bits[0], bits[1])
            else:
                g, p = 0, (bits[0] if bits else 0)
            carry = self.xor(g, self.and_(p, carry))
        top = carry
        for b in two.get(width - 1, []):
            top = self.xor(top, b)
        return top

    # -- comparators against a constant ------------------------------------------------------

    def gt_const(self, x: list, t: int, *, signed: bool = True):
        """``x > t`` for bits ``x`` (LSB first) and a constant ``t``.

        ``x`` is two's complement when ``signed``, else unsigned.
        """
        n = len(x)
        c = t + (1 << (n - 1)) if signed else t
        return self._chain(x, c, signed, want_inverted=False)

    def lt_const(self, x: list, t: int, *, signed: bool = True):
        """``x < t`` for a constant ``t``: the complement of ``x > t - 1``."""
        n = len(x)
        c = t - 1 + (1 << (n - 1)) if signed else t - 1
        return self._chain(x, c, signed, want_inverted=True)

    def _chain(self, x, c, signed, want_inverted):
        free = free_inverted(len(x), signed)
        plan = plan_comparator(len(x), c, free, want_inverted)
        if isinstance(plan, int):
            return plan

        def lit(i, inverted):
            return x[i] if inverted == free[i] else self.not_(x[i])

        value = None
        for i, kind, flip in plan[1]:
            v = value
            if kind == "start_p":
                value = lit(i, False)
            elif kind == "start_n":
                value = lit(i, True)
            elif kind == "and_pp":
                value = self.and_(lit(i, False), v)
            elif kind == "and_np":
                u = lit(i, False)
                value = self.xor(u, self.and_(u, v))
            elif kind == "or_nn":
                value = self.and_(lit(i, True), v)
            elif kind == "or_nn2":
                value = self.xor(v, self.and_(v, lit(i, False)))
            elif kind == "or_pn":
                u = lit(i, True)
                value = self.xor(u, self.and_(u, v))
            elif kind == "or_pp":
                u = lit(i, False)
                value = self.xor(self.xor(u, v), self.and_(u, v))
            else:
                raise AssertionError(kind)
            if flip:
                value = self.not_(value)
        return value

    # -- emission ----------------------------------------------------------------------------

    def depth(self, outputs) -> int:
        """Gate depth of the deepest of ``outputs``."""
        return max((self._depth(o) for o in outputs), default=0)

    def emit(self, m: Module, outputs, *, stages: int = 1, en=None, prefix: str = "g"):
        """Build the network for ``outputs`` in ``m``; return their values, in order.

        ``stages > 1`` cuts the network at ``stages - 1`` evenly spaced gate depths and puts
        a register (enabled by ``en``) on every wire that crosses a cut, so every path from
        an input to an output crosses exactly ``stages - 1`` registers. Only the gates the
        outputs depend on are emitted.
        """
        if stages > 1 and en is None:
            raise ValueError("a pipelined network needs an enable")
        top = max(self.depth(outputs), 1)
        cuts = [round(top * k / stages) for k in range(1, stages)]

        needed = set()
        stack = [o for o in outputs if not isinstance(o, int)]
        while stack:
            n = stack.pop()
            if n.index not in needed:
                needed.add(n.index)
                stack.extend(n.args)

        values = {}
        delayed = {}

        def stage_of(depth):
            return sum(1 for c in cuts if depth >= c)

        def at_stage(n, stage):
            """``n``'s value seen from logic in pipeline stage ``stage``."""
            v, have = values[n.index], stage_of(n.depth) if n.op != "in" else 0
            for k in range(have, stage):
                key = (n.index, k)
                if key not in delayed:
                    r = Signal(name=f"{prefix}{n.index}_s{k + 1}")
                    with m.If(en):
                        m.d.sync += r.eq(v)
                    delayed[key] = r
                v = delayed[key]
            return v

        for n in self.nodes:
            if n.index not in needed:
                continue
            if n.op == "in":
                values[n.index] = n.value
                continue
            stage = stage_of(n.depth)
            args = [at_stage(a, stage) for a in n.args]
            s = Signal(name=f"{prefix}{n.index}")
            expr = {"not": lambda a: ~a, "and": lambda a, b: a & b,
                    "xor": lambda a, b: a ^ b}[n.op](*args)
            m.d.comb += s.eq(expr)
            values[n.index] = s

        out = []
        for o in outputs:
            if isinstance(o, int):
                out.append(Const(o, 1))
            else:
                out.append(at_stage(o, stages - 1))
        return out

    def emit_vector(self, m, bits, **kwargs):
        """:meth:`emit` for a list of bits, returned as one value (LSB first)."""
        return Cat(*self.emit(m, bits, **kwargs))
