"""A ``dask worker --preload`` module for tests/test_regress_shards.py: the first shard any
worker starts kills that worker's process (SIGKILL, after its simulations and before its result
is delivered), once per marker file
(``VITGATES_TEST_KILL_MARKER``); every other shard runs as usual."""

import os
import signal
from pathlib import Path


def dask_setup(worker):
    from vitgates.regress import person

    real = person.shard_person
    marker = Path(os.environ["VITGATES_TEST_KILL_MARKER"])

    def shard_person(spec, shard):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return real(spec, shard)
        os.write(fd, f"{os.getpid()} {shard.index}\n".encode())
        os.close(fd)
        real(spec, shard)  # the work done, its result never delivered
        os.kill(os.getpid(), signal.SIGKILL)

    person.shard_person = shard_person
