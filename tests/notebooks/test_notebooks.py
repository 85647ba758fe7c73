"""The notebooks in notebooks/: committed without outputs, on the public API only, and they run.

Executing them (the slow test) runs every cell in a fresh IPython kernel with nbclient, so a change
to the library that breaks a notebook fails the build instead of leaving it to rot. The executed
copies are written under ``$FM_TEST_OUTPUT/notebooks/`` (when set) for a look at the charts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
DATA_DIR = NOTEBOOK_DIR / "data"
MAX_SLICE_BYTES = 300 * 1024

# The library's public, stable surface for exploration; root modules (weekly, pipeline, cli, ...)
# are service and entry-point code that moves, so notebooks must not import them.
ALLOWED = ("feedback_miner.stages.", "feedback_miner.domain.", "feedback_miner.adapters.embedders",
           "feedback_miner.adapters.artefacts", "feedback_miner.errors")


def _read(path: Path) -> nbformat.NotebookNode:
    nb: nbformat.NotebookNode = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call,unused-ignore]
    return nb


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def library_imports(nb: nbformat.NotebookNode) -> list[str]:
    """Every ``feedback_miner`` module a notebook's code cells import."""
    found: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                found += [a.name for a in node.names if a.name.split(".")[0] == "feedback_miner"]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "feedback_miner":
                found += [node.module]
    return found


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 2, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = _read(path)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_uses_only_the_public_api(path: Path) -> None:
    imports = library_imports(_read(path))
    assert imports, f"{path.name} does not use the library"
    bad = [m for m in imports if not m.startswith(ALLOWED) and m not in {a.rstrip(".") for a in ALLOWED}]
    assert not bad, f"{path.name} imports {bad}; use only {ALLOWED}"


def test_data_slices_are_small_and_documented() -> None:
    slices = sorted(DATA_DIR.glob("*.csv"))
    assert slices
    source = (DATA_DIR / "SOURCE.md").read_text(encoding="utf-8")
    for p in slices:
        assert p.stat().st_size < MAX_SLICE_BYTES, f"{p.name} is {p.stat().st_size} bytes"
        assert f"`{p.name}`" in source, f"{p.name} is not described in notebooks/data/SOURCE.md"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_executes(path: Path, out_dir: Path) -> None:
    from nbclient import NotebookClient

    nb = _read(path)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    try:
        client.execute()
    finally:
        (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / "notebooks" / path.name)  # type: ignore[no-untyped-call,unused-ignore]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
