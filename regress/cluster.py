"""Where the shards of a regression run: a Dask client from the command's options.

By default a :class:`distributed.LocalCluster` of one single-threaded worker process per
core of this machine (``--workers N``: at most N); with ``--scheduler tcp://HOST:PORT`` a
cluster that is already running (``dask scheduler`` and ``dask worker`` processes on a
compute farm, or one that dask-jobqueue started on SLURM or LSF: docs/regress.md). A
worker runs one shard at a time: each shard is one simulator process at a time, and the
simulator builds are shared by every worker of a machine (its build folder, locked while
one is built).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import VitgatesError

__all__ = ["Pool", "local_workers", "open_client"]


def local_workers(cap: int | None = None) -> int:
    """Workers of a local cluster: one per core this process may use, at most ``cap``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if cap is not None and cap < 1:
        raise VitgatesError(f"--workers must be at least 1, got {cap}")
    return max(1, min(cores, cap) if cap else cores)


@dataclass
class Pool:
    """A Dask client and the workers a regression may use (None: all of them)."""

    client: object
    only: list | None = None

    def submit(self, fn, *args, **kw):
        if self.only:
            kw.update(workers=self.only, allow_other_workers=False)
        return self.client.submit(fn, *args, **kw)

    @property
    def n_workers(self) -> int:
        return len(self.only or self.client.scheduler_info()["workers"])


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None,
                timeout: float = 30, processes: bool = True) -> Iterator[Pool]:
    """The :class:`Pool` of the running cluster at ``scheduler`` (its first ``workers``
    workers when a number is given), else of a local cluster of :func:`local_workers`
    processes (``processes=False``: threads of this process, for tests that patch it);
    closed on the way out."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise VitgatesError("the regression's shards run on Dask: pip install "
                            "'dask[distributed]'") from None
    if workers is not None and workers < 1:
        raise VitgatesError(f"--workers must be at least 1, got {workers}")
    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as e:
            raise VitgatesError(f"--scheduler {scheduler}: cannot connect ({e})") from None
        try:
            client.wait_for_workers(1, timeout=timeout)
            only = None
            if workers:
                only = sorted(client.scheduler_info()["workers"])[:workers]
            yield Pool(client, only)
        finally:
            client.close()
        return
    n = local_workers(workers)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield Pool(client)
