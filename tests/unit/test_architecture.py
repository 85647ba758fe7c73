"""The layers hold: the pure core (domain/, stages/) imports no I/O library; only adapters/ imports
SQLAlchemy; services/ reach the store through the port only; api/ never imports the CLI; nothing
heavy happens at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "feedback_miner"
FORBIDDEN = {"fastapi", "sqlalchemy", "torch", "sentence_transformers", "httpx", "uvicorn", "requests", "alembic"}


def _modules(path: Path) -> set[str]:
    """Every module a file imports, by full dotted name."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _imports(path: Path) -> set[str]:
    return {m.split(".")[0] for m in _modules(path)}


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


def test_only_adapters_import_sqlalchemy() -> None:
    offenders = [str(p.relative_to(PKG.parent)) for p in _files(PKG) + _files(PKG.parent / "api")
                 if "sqlalchemy" in _imports(p) and "adapters" not in p.relative_to(PKG.parent).parts]
    assert offenders == []


def test_services_reach_the_store_only_through_the_port() -> None:
    sql_side = {"feedback_miner.adapters.store", "feedback_miner.adapters.tables", "feedback_miner.adapters.sql_results",
                "feedback_miner.adapters.queries", "feedback_miner.adapters.registry_store", "feedback_miner.cli",
                "feedback_miner.bootstrap", "api"}
    offenders = {str(p.name): sorted(m for m in _modules(p) if any(m == s or m.startswith(s + ".") for s in sql_side))
                 for p in _files(PKG / "services")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_api_never_imports_the_cli() -> None:
    offenders = [str(p.relative_to(PKG.parent)) for p in _files(PKG.parent / "api")
                 if any(m == "feedback_miner.cli" or m.startswith("feedback_miner.cli.") for m in _modules(p))]
    assert offenders == []


def test_the_weekly_run_takes_the_store_port() -> None:
    import inspect

    from feedback_miner.domain.ports import FeedbackStore
    from feedback_miner.services.weekly import run_week

    assert inspect.signature(run_week).parameters["store"].annotation in (FeedbackStore, "FeedbackStore")


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
        "import sys, feedback_miner.cli, feedback_miner.services.analysis, feedback_miner.services.weekly;"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'umap', 'hdbscan') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_error_derives_from_the_base() -> None:
    import feedback_miner.errors as e

    for name in e.__all__:
        assert issubclass(getattr(e, name), e.FeedbackMinerError)
