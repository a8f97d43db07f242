"""Build a small ``.ipynb`` notebook from ``(kind, source)`` cells, for tests that need a toy study.

Kinds: ``"markdown"``, ``"code"``, ``"parameters"`` (the cell tagged for papermill) and ``"summary"``
(its outputs open the PDF). Test support only: the studies themselves are jupytext text notebooks
(notebooks/NN_<name>.py).
"""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

TAGGED = ("parameters", "summary")


def build_notebook(cells) -> nbformat.NotebookNode:
    """A notebook without outputs, with a python3 kernelspec and stable cell ids."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        source = source.strip("\n")
        if kind == "markdown":
            nb.cells.append(new_markdown_cell(source))
        elif kind in TAGGED:
            nb.cells.append(new_code_cell(source, metadata={"tags": [kind]}))
        elif kind == "code":
            nb.cells.append(new_code_cell(source))
        else:
            raise ValueError(f"build_notebook: cell kind {kind!r}; use markdown, code, parameters or summary.")
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb
