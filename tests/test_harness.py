"""The batch harness: it streams files through a design and catches every broken rule.

Small hand-written designs: a correct one-stage register (outputs equal inputs under random
stalls, on every simulator), and designs that drop ``valid``, change the payload before the
transfer, give an extra output, give too few, or put X on the payload. Each broken one must
fail the run.
"""

import numpy as np
import pytest

from vitgates.sim.harness import Harness, HarnessError, Stream, pack_items, unpack_items
from vitgates.sim.runner import available_simulators

pytestmark = pytest.mark.cocotb

SIMS = available_simulators()
# Icarus compiles in a fraction of a second; the slow tests use it where it is installed.
FAST_SIM = "icarus" if "icarus" in SIMS else "verilator"

_REGISTER = """
module top(input clk, input rst,
           input [11:0] i__payload, input i__valid, output i__ready,
           output reg [11:0] o__payload, output reg o__valid, input o__ready);
  assign i__ready = ~o__valid | o__ready;
  always @(posedge clk) begin
    if (rst) o__valid <= 0;
    else if (i__ready) begin
      o__valid <= i__valid;
      if (i__valid) o__payload <= i__payload BODY;
    end
  end
  BREAK
endmodule
"""

_BROKEN = {
    # valid falls while the sink is not ready
    "drop": ("", "always @(posedge clk) if (o__valid & ~o__ready & (o__payload == 7)) "
             "o__valid <= 0;"),
    # payload changes while waiting
    "change": ("", "always @(posedge clk) if (o__valid & ~o__ready & (o__payload == 7)) "
               "o__payload <= 8;"),
    # the result is wrong for one value (caught by the comparison, not by the harness)
    "wrong": ("+ (i__payload == 5)", ""),
}


def _design(tmp_path, body="", brk="") -> str:
    p = tmp_path / "top.v"
    p.write_text(_REGISTER.replace("BODY", body).replace("BREAK", brk))
    return p


def test_pack_unpack(tmp_path):
    assert pack_items([-1, 2], 12) == bytes([0xFF, 0x0F, 0x02, 0x00])
    assert pack_items([1 << 70], 80) == (1 << 70).to_bytes(10, "little")
    f = tmp_path / "o.txt"
    f.write_text("0a\n1F\n")
    assert unpack_items(f) == [10, 31]
    f.write_text("0x\n")
    with pytest.raises(HarnessError, match="X or Z"):
        unpack_items(f)


@pytest.mark.parametrize("simulator", SIMS)
def test_register_under_stalls(tmp_path, simulator):
    h = Harness(f"test-register-{tmp_path.name}", [_design(tmp_path)], [Stream("i", 12)],
                Stream("o", 12), simulator=simulator)
    items = np.random.default_rng(0).integers(0, 4096, 3000)
    r = h.run([items], expect=len(items), pause_in=0.3, pause_out=0.5, seed=4)
    assert r.outputs == items.tolist()
    # the stall pattern is the simulator-independent xorshift: the cycle count is fixed
    r2 = h.run([items], expect=len(items), pause_in=0.3, pause_out=0.5, seed=4)
    assert r2.cycles == r.cycles > len(items) * 1.5
    # unknown output count: ends when the output has been quiet
    r3 = h.run([items[:50]], expect=None, tail=40)
    assert r3.outputs == items[:50].tolist()


@pytest.mark.parametrize("kind", ["drop", "change"])
def test_stream_rule_breaks_are_caught(tmp_path, kind):
    body, brk = _BROKEN[kind]
    h = Harness(f"test-{kind}-{tmp_path.name}", [_design(tmp_path, body, brk)],
                [Stream("i", 12)], Stream("o", 12), simulator=FAST_SIM)
    items = np.arange(20)
    with pytest.raises(HarnessError, match="before the transfer"):
        h.run([items], expect=len(items), pause_out=0.6, seed=2)


def test_wrong_result_and_counts_are_caught(tmp_path):
    body, brk = _BROKEN["wrong"]
    h = Harness(f"test-wrong-{tmp_path.name}", [_design(tmp_path, body, brk)],
                [Stream("i", 12)], Stream("o", 12), simulator=FAST_SIM)
    items = np.arange(10)
    r = h.run([items], expect=10)
    assert r.outputs != items.tolist() and r.outputs[5] == 6
    with pytest.raises(HarnessError, match="after the last expected"):
        h.run([items], expect=9)
    with pytest.raises(HarnessError, match="timeout"):
        h.run([items], expect=11, max_cycles=500)


def test_x_on_payload_is_caught(tmp_path):
    if "icarus" not in SIMS:
        pytest.skip("X values need a four-state simulator (Icarus)")
    p = tmp_path / "top.v"
    p.write_text(_REGISTER.replace("BODY", "").replace("BREAK", "").replace(
        "if (i__valid) o__payload <= i__payload", "if (i__valid) o__payload <= 12'bx"))
    h = Harness(f"test-x-{tmp_path.name}", [p], [Stream("i", 12)], Stream("o", 12),
                simulator="icarus")
    with pytest.raises(HarnessError, match="X or Z"):
        h.run([np.arange(3)], expect=3)


def test_two_input_streams_in_order(tmp_path):
    """Weights before data: the second stream starts when the first has sent everything."""
    p = tmp_path / "top.v"
    p.write_text("""
module top(input clk, input rst,
           input [7:0] w__payload, input w__valid, output w__ready,
           input [7:0] i__payload, input i__valid, output i__ready,
           output reg [7:0] o__payload, output reg o__valid, input o__ready,
           input [7:0] offset);
  reg [7:0] acc = 0;
  reg [7:0] nw = 0;
  assign w__ready = 1;
  assign i__ready = ~o__valid | o__ready;
  always @(posedge clk) begin
    if (w__valid) begin acc <= acc + w__payload; nw <= nw + 1; end
    if (i__ready) begin
      o__valid <= i__valid;
      if (i__valid) o__payload <= i__payload + acc + offset + (nw == 3 ? 0 : 100);
    end
    if (rst) begin o__valid <= 0; acc <= 0; nw <= 0; end
  end
endmodule
""")
    h = Harness(f"test-two-{tmp_path.name}", [p], [Stream("w", 8), Stream("i", 8)],
                Stream("o", 8), simulator=FAST_SIM, statics={"offset": 8})
    r = h.run([[1, 2, 3], [10, 20]], expect=2, statics={"offset": 7}, pause_in=0.5)
    assert r.outputs == [10 + 6 + 7, 20 + 6 + 7]


def test_frames_end_on_the_end_bit(tmp_path):
    """Outputs in frames of unknown length: the run ends after the frame-end outputs, and an
    output after the last frame is an error."""
    h = Harness(f"test-frames-{tmp_path.name}", [_design(tmp_path)], [Stream("i", 12)],
                Stream("o", 12), simulator=FAST_SIM, end_bit=11)
    items = [1, 2, 0x800 | 3, 4, 0x800 | 5]
    seen = []
    r = h.run([items], frames=2, pause_out=0.5, progress=100, on_progress=seen.append)
    assert r.outputs == items and seen == [1, 2]
    with pytest.raises(HarnessError, match="after the last expected"):
        h.run([items], frames=1)
