"""Write a study notebook from a compact description (used by developers, not at run time).

Usage: python tools/make_notebook.py SPEC.py OUT.ipynb, where SPEC.py defines CELLS,
a list of ("markdown" | "code" | "parameters" | "summary", source) pairs. Notebooks are written
without outputs, with the parameters cell tagged for papermill.
"""

from __future__ import annotations

import runpy
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def build(cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        source = source.strip("\n")
        if kind == "markdown":
            nb.cells.append(new_markdown_cell(source))
        elif kind == "parameters":
            nb.cells.append(new_code_cell(source, metadata={"tags": ["parameters"]}))
        elif kind == "summary":  # its outputs open the PDF, after the title block
            nb.cells.append(new_code_cell(source, metadata={"tags": ["summary"]}))
        else:
            nb.cells.append(new_code_cell(source))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


if __name__ == "__main__":
    spec = runpy.run_path(sys.argv[1])
    nbformat.write(build(spec["CELLS"]), sys.argv[2])
