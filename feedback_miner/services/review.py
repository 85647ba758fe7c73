"""The review loop's use cases shared by the API and the pages: confirm or correct many items."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from feedback_miner.errors import NotFoundError

__all__ = ["confirm_many"]

Confirm = Callable[..., dict[str, Any]]


def confirm_many(confirm: Confirm, items: Iterable[tuple[int, str, str | None]], *, reviewer: str) -> dict[str, Any]:
    """Confirm each (id, category, secondary) with ``confirm``; per-item results like ingest's
    (an unknown id fails alone)."""
    results = []
    for fid, category, secondary in items:
        try:
            r = confirm(fid, category=category, secondary=secondary, reviewer=reviewer)
        except NotFoundError as exc:
            results.append({"id": fid, "status": "not_found", "old_category": None, "category": category,
                            "error": str(exc)})
            continue
        results.append({"id": fid, "status": "corrected" if r["corrected"] else "confirmed",
                        "old_category": r["old_category"], "category": category, "error": None})
    counts = {k: sum(r["status"] == k for r in results) for k in ("confirmed", "corrected", "not_found")}
    return {"counts": counts, "results": results}
