"""Run a person-classifier component in amaranth.sim with random stalls on both sides."""

from amaranth.sim import Simulator

from streams import Staller, stream_get, stream_put


def run_stream(dut, payloads, n_out, *, p_in=0.3, p_out=0.3, seed=0, max_cycles=10**6):
    """Feed ``payloads`` into ``dut.i``; collect ``n_out`` payloads from ``dut.o``."""
    got = []

    async def producer(ctx):
        st = Staller(p_in, seed)
        for p in payloads:
            await stream_put(ctx, dut.i, p, st)

    async def consumer(ctx):
        st = Staller(p_out, seed + 1)
        for _ in range(n_out):
            got.append(await stream_get(ctx, dut.o, st))
        # nothing more may come out
        for _ in range(30):
            _, _, valid = await ctx.tick().sample(dut.o.valid)
            assert not valid, "an extra output appeared"

    async def watchdog(ctx):
        for _ in range(max_cycles):
            await ctx.tick()
        raise AssertionError(f"no result after {max_cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(watchdog, background=True)
    sim.run()
    assert len(got) == n_out, f"{len(got)} of {n_out} outputs"
    return got
