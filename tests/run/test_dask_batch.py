"""Batches on a real Dask cluster: a scheduler and two workers as separate processes on 127.0.0.1.

The cluster is started with the ``dask scheduler`` / ``dask worker`` programs, as on a real
cluster; the batch reaches it only through ``--scheduler tcp://127.0.0.1:PORT``. The second test
kills a worker (SIGKILL, no nanny to restart it) while it runs a study and checks that the run is
retried on the other worker, not lost.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from analysis.run.batch import run_batch
from dask_cluster import dask_cluster
from notebook_builder import build_notebook

pytestmark = pytest.mark.slow

PARAMS = '''
n: int = 3  # how many draws
sleep: float = 0.0  # seconds to wait in the middle (to be killed in)
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner
'''

BODY = '''
import json, os, pathlib, socket, time
import numpy as np
time.sleep(sleep)
values = np.arange(n, dtype=float)
'''

FINISH = '''
rows = [{"name": f"x_{i}", "estimate": float(v), "se": 1.0, "ci_low": None, "ci_high": None,
         "n": 100, "unit": "value", "suppressed": False} for i, v in enumerate(values)]
(pathlib.Path(output_dir) / "results.json").write_text(json.dumps(
    {"study": "toy", "parameters": {"n": n, "sleep": sleep}, "dataset": {}, "estimates": rows}))
'''


@pytest.fixture()
def cluster(tmp_path, monkeypatch):
    """A toy project, a scheduler and two single-thread workers without nannies."""
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='toy'\n")
    nb = build_notebook([("markdown", "# Toy study"), ("parameters", PARAMS), ("code", BODY), ("code", FINISH)])
    nbformat.write(nb, root / "notebooks" / "01_toy.ipynb")
    monkeypatch.setenv("RENDEERT_HOME", str(root))
    logs = tmp_path / "logs"
    with dask_cluster(logs, env={**os.environ, "RENDEERT_HOME": str(root)}) as (address, procs):
        yield {"address": address, "root": root, "procs": procs, "logs": logs}


def test_batch_runs_on_a_dask_cluster(cluster, tmp_path):
    out = tmp_path / "reports"
    batch_dir = run_batch("toy", {"n": [2, 3, 4]}, scheduler=cluster["address"], out_root=out, pdf=False,
                          progress=False)
    runs = pd.read_csv(batch_dir / "runs.csv")
    assert list(runs["status"]) == ["ok"] * 3
    assert runs["run_dir"].nunique() == 3
    pids = {cluster["procs"][1].pid, cluster["procs"][2].pid}
    used = {int(w.rsplit(":", 1)[1]) for w in runs["worker"]}
    assert used <= pids, "every run executed in a worker process, not in the client"
    for run_dir in runs["run_dir"]:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
        assert int(manifest["batch_worker"].rsplit(":", 1)[1]) in pids, "the manifest records where it ran"
    summary = pd.read_csv(batch_dir / "summary.csv")
    assert len(summary) == 2 + 3 + 4


def test_killed_worker_run_is_retried_elsewhere(cluster, tmp_path):
    from distributed import Client

    out = tmp_path / "reports"
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("dir", run_batch(
        "toy", {"n": [2, 3], "sleep": [6.0]}, scheduler=cluster["address"], out_root=out, pdf=False,
        progress=False)))
    thread.start()
    victim = cluster["procs"][1]
    with Client(cluster["address"], timeout="30s") as client:
        deadline = time.time() + 60
        while time.time() < deadline:  # wait until the victim has a run in progress
            busy = [addr for addr, keys in client.processing().items() if keys]
            if len(busy) == 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the two runs never ran at the same time on the two workers")
        time.sleep(2.0)  # inside the notebook's sleep
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    thread.join(timeout=120)
    assert not thread.is_alive(), "the batch must finish after losing a worker"
    runs = pd.read_csv(result["dir"] / "runs.csv")
    assert list(runs["status"]) == ["ok", "ok"], "the killed worker's run was retried, not lost"
    survivor = cluster["procs"][2].pid
    assert {int(w.rsplit(":", 1)[1]) for w in runs["worker"]} == {survivor}

