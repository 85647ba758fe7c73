"""``feedback-miner analyze``: the whole pipeline over one file, no store; writes four outputs."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from feedback_miner.adapters.readers import read_rows
from feedback_miner.adapters.render import render_digest
from feedback_miner.config import Settings
from feedback_miner.domain.pii_policy import usable_key
from feedback_miner.domain.ports import Classifier
from feedback_miner.errors import InputError
from feedback_miner.services.analysis import analyze_items
from feedback_miner.stages.cluster import ClusterParams
from feedback_miner.stages.digest import problem_dict
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows
from feedback_miner.stages.protocols import Embedder, Progress

__all__ = ["analyze_file"]


def analyze_file(
    input: Path, out: Path, *, text_column: str, id_column: str | None, time_column: str | None,
    category_column: str | None, embedder: Embedder, clf: Classifier, settings: Settings, min_cluster_size: int = 0,
    progress: Progress | None = None,
) -> list[Path]:
    """Classify and cluster one file; writes feedback.csv, problems.json, digest.md, digest.json."""
    cols = {"text": text_column}
    if id_column:
        cols["external_id"] = id_column
    if category_column:
        cols["category"] = category_column
    cols["created_at"] = time_column or "__no_time__"
    rows = list(read_rows(input))
    if not time_column:
        now = datetime.now(UTC).isoformat()
        rows = [(n, {**r, "__no_time__": now}) for n, r in rows]
    report = IngestReport()
    key = settings.pseudonym_key
    items = list(parse_rows(rows, ColumnMapping(cols), default_source="file", report=report,
                            pseudonym_key=usable_key(key.get_secret_value() if key else None)))
    if rows and text_column not in rows[0][1]:
        raise InputError(f"{input}: no column {text_column!r}; columns are {sorted(rows[0][1])}")
    for err in report.errors[:20]:
        print(f"skipped {err}")
    if not items:
        raise InputError(f"{input}: no usable rows ({report.rejected} rejected)")
    items = [replace(it, id=n) for n, it in enumerate(items)]
    params = ClusterParams(min_cluster_size=min_cluster_size or settings.min_cluster_size, dims=settings.reduce_dims,
                           random_state=settings.random_state, workers=settings.cluster_workers)
    res = analyze_items(items, embedder, clf, params=params, use_given_categories=bool(category_column),
                        with_time=bool(time_column), top_n=settings.top_n, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "feedback.csv", out / "problems.json", out / "digest.md", out / "digest.json"]
    with paths[0].open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "category", "confidence", "problem_id"])
        for it, p, cat, pid in zip(res.items, res.predictions, res.categories, res.found.problem_of):
            given = bool(category_column and it.category)
            w.writerow([it.external_id, cat, "1.0000" if given else f"{p.confidence:.4f}", pid or ""])
    problems = [problem_dict(p) for p in res.found.problems]
    paths[1].write_text(json.dumps(problems, indent=2, ensure_ascii=False), encoding="utf-8")
    paths[2].write_text(render_digest(res.digest, "md"), encoding="utf-8")
    paths[3].write_text(render_digest(res.digest, "json"), encoding="utf-8")
    return paths
