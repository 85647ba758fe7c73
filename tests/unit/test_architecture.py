"""The pure core (domain/, stages/) imports no I/O library; nothing heavy happens at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "feedback_miner"
FORBIDDEN = {"fastapi", "sqlalchemy", "torch", "sentence_transformers", "httpx", "uvicorn", "requests", "alembic"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_pure_core_imports_no_io_library() -> None:
    offenders = {
        str(p.relative_to(PKG)): sorted(_imports(p) & FORBIDDEN)
        for sub in ("domain", "stages") for p in (PKG / sub).glob("*.py")
        if _imports(p) & FORBIDDEN
    }
    assert offenders == {}


def test_domain_uses_stdlib_and_numpy_only() -> None:
    allowed = set(sys.stdlib_module_names) | {"numpy", "feedback_miner"}
    bad = {str(p.name): sorted(_imports(p) - allowed) for p in (PKG / "domain").glob("*.py") if _imports(p) - allowed}
    assert bad == {}


def test_importing_the_package_loads_no_model_or_engine() -> None:
    code = (
        "import sys, feedback_miner.cli, feedback_miner.pipeline, feedback_miner.weekly;"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'umap', 'hdbscan') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_error_derives_from_the_base() -> None:
    import feedback_miner.errors as e

    for name in e.__all__:
        assert issubclass(getattr(e, name), e.FeedbackMinerError)
