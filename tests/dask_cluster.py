"""A real Dask cluster for tests: a scheduler and worker processes on 127.0.0.1, started with the
``dask scheduler`` / ``dask worker`` programs as on a real cluster (single-thread workers, no nannies,
so a killed worker stays dead)."""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dask_cluster(logs: Path, *, env: dict, workers: int = 2):
    """Yield (address, processes: scheduler first, then the workers); everything is stopped afterwards."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs.mkdir(parents=True, exist_ok=True)
    port = address.rsplit(":", 1)[1]
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", port, "--no-dashboard"], env=env,
                              stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT)]
    for i in range(workers):
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                       "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}"],
                                      env=env, stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT))
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=60)
        yield address, procs
    finally:
        for p in procs[1:] + procs[:1]:  # workers first, then the scheduler
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
