"""A tiny study notebook for the run tests: it can refuse its input, sleep, kill its worker, show its policy."""

from __future__ import annotations

import nbformat
import pytest

from notebook_builder import build_notebook

PARAMS = '''
n: int = 3  # how many draws
refuse: str = ""  # raise this input error in the middle cell [|DataValidationError|ParameterError|StudyError]
sleep: float = 0.0  # seconds to sleep in the middle cell
kill_parent: bool = False  # SIGKILL the process that runs this notebook (a batch worker)
municipality: str = "all"  # a population parameter
dataset_name: str = "toy data"  # the name the report shows for the data
lang: str = "nl"  # report language [nl|en]
output_dir: str = ""  # set by the runner
'''

BODY = '''
import json, os, pathlib, signal, time
import analysis.errors as errors
pathlib.Path(output_dir, "kernel_env.json").write_text(json.dumps({"RENDEERT_POLICY": os.environ.get("RENDEERT_POLICY")}))
if refuse:
    raise getattr(errors, refuse)(f"refused on purpose: {refuse}")
if kill_parent:
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(30)
time.sleep(sleep)
'''

FINISH = '''
rows = [{"name": f"x_{i}", "estimate": float(i), "se": None, "ci_low": None, "ci_high": None,
         "n": 100, "unit": "value", "suppressed": False} for i in range(n)]
rows.append({"name": "small", "estimate": None, "se": None, "ci_low": None, "ci_high": None, "n": 4,
             "unit": "value", "suppressed": True})
out = pathlib.Path(output_dir)
(out / "disclosure_log.json").write_text(json.dumps([{"object": "small", "cell": "estimate", "rule": "min_units",
                                                      "n": 4}]))
(out / "report_info.json").write_text(json.dumps({"title": None, "dataset_name": dataset_name,
                                                  "dataset_source": dataset_name}))
(out / "results.json").write_text(json.dumps({"study": "toy", "parameters": {"municipality": municipality},
                                              "dataset": {}, "estimates": rows}))
'''


@pytest.fixture()
def toy(tmp_path, monkeypatch):
    """A project with the one study 'toy' (RENDEERT_HOME points at it); returns the project root."""
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='toy'\n")
    nb = build_notebook([("markdown", "# Toy study"), ("parameters", PARAMS), ("code", BODY), ("code", FINISH)])
    nbformat.write(nb, root / "notebooks" / "01_toy.ipynb")
    monkeypatch.setenv("RENDEERT_HOME", str(root))
    monkeypatch.delenv("RENDEERT_POLICY", raising=False)
    return root
