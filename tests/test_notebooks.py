"""The researcher notebooks run top to bottom on the sample videos and simulator data, offline,
with no errors (nbclient, as CI runs them)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_the_four_notebooks():
    names = [n.stem for n in NOTEBOOKS]
    assert len(names) == 4, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path):
    book = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), (
        "notebooks are committed without outputs"
    )
    NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    source = "\n".join(c.source for c in book.cells if c.cell_type == "code")
    assert "handoff_cv." not in source.replace("import handoff_cv as hcv", ""), (
        "notebooks use the public API only"
    )
