"""The gate cost of comparing an INT8 value with a constant: a pure model, no gateware.

:class:`vitgates.hw.gates.Gates` builds ``x > t`` and ``x < t`` from the plan computed here;
:func:`vitgates.golden.person.fit_popcount` reads :func:`comparator_cost` to trade a little
threshold precision for fewer gates. It lives in ``golden`` so that fitting a config never
imports the hardware.
"""

__all__ = ["comparator_cost", "free_inverted", "plan_comparator"]


# u > c for an unsigned constant c is the carry chain g_i = u_i & g_{i-1} where c_i = 1 and
# g_i = u_i | g_{i-1} where c_i = 0 (g_{-1} = 0), read at the top bit. An OR costs three
# gates in positive polarity but one AND in negative polarity (~g_i = ~u_i & ~g_{i-1}), so
# each step is taken in whichever polarity (g or ~g) is cheapest overall: a dynamic
# programme over the bits with two states. A signed x is compared as u = x + 2**(n-1),
# whose top bit is the complement of x's sign bit.

# step kind -> (polarity before, polarity after, gates, literal inverted); polarity True: ~g
_AND_STEPS = {"and_pp": (False, False, 1, False), "and_np": (True, False, 2, False)}
_OR_STEPS = {
    "or_nn": (True, True, 1, True),  # ~g' = ~u & ~g
    "or_nn2": (True, True, 2, False),  # ~g' = ~g ^ (~g & u)
    "or_pn": (False, True, 2, True),  # ~g' = ~u ^ (~u & g)
    "or_pp": (False, False, 3, False),  # g' = u ^ g ^ (u & g)
}


def free_inverted(n, signed):
    """Per bit of u: True where the literal at hand is ~u_i (the sign bit of a signed x)."""
    return [signed and i == n - 1 for i in range(n)]


def plan_comparator(n, c, free_inverted, want_inverted):
    """The cheapest chain for ``u > c`` (its complement when ``want_inverted``).

    Returns a constant 0/1 when the result does not depend on u, else ``(gates, steps)``
    with steps ``(bit, kind, flip)`` (``flip``: an inverter after the step).
    """
    if c >= (1 << n) - 1:  # u > all-ones never holds
        return int(want_inverted)
    if c < 0:  # u > -1 always holds
        return int(not want_inverted)

    def lit_cost(i, inverted):
        return 0 if inverted == free_inverted[i] else 1

    best = None  # polarity -> (gates, steps); None while g is still the constant 0
    for i in range(n):
        one = (c >> i) & 1
        if best is None:
            if not one:  # the lowest zero bit of c starts the chain: g = u_i
                best = {False: (lit_cost(i, False), [(i, "start_p", False)]),
                        True: (lit_cost(i, True), [(i, "start_n", False)])}
            continue
        direct = {False: (1 << 30, None), True: (1 << 30, None)}
        for kind, (before, after, gates, lit_inv) in (_AND_STEPS if one else _OR_STEPS).items():
            cost = best[before][0] + gates + lit_cost(i, lit_inv)
            if cost < direct[after][0]:
                direct[after] = (cost, best[before][1] + [(i, kind, False)])
        best = {}
        for pol in (False, True):
            other_cost, other_steps = direct[not pol]
            if other_cost + 1 < direct[pol][0]:
                last = other_steps[-1]
                best[pol] = (other_cost + 1, other_steps[:-1] + [(last[0], last[1], True)])
            else:
                best[pol] = direct[pol]
    return best[want_inverted]


def comparator_cost(t: int, *, positive: bool, width: int = 8) -> int:
    """Gates (AND, XOR, NOT) of ``x > t`` (``positive``) or ``x < t`` for a signed ``x``.

    The same dynamic programme :meth:`vitgates.hw.gates.Gates.gt_const` and
    :meth:`~vitgates.hw.gates.Gates.lt_const` build.
    """
    free = free_inverted(width, True)
    c = t + (1 << (width - 1)) if positive else t - 1 + (1 << (width - 1))
    plan = plan_comparator(width, c, free, not positive)
    return 0 if isinstance(plan, int) else plan[0]
