"""What the routes call: one object wired at start-up holding the model, classifier and store.

Each public method does one job for one route; errors are library errors (mapped in api/errors.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from api.batching import BatchingEmbedder
from feedback_miner.adapters import queries
from feedback_miner.adapters.store import Store
from feedback_miner.config import Settings
from feedback_miner.domain.pii_policy import usable_key
from feedback_miner.domain.redact import redact
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import last_complete_week, week_bounds
from feedback_miner.errors import ConflictError, InputError, NotFoundError, RowError
from feedback_miner.services.analysis import classify_texts
from feedback_miner.services.model_ops import retrain, roll_back
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.digest import Digest
from feedback_miner.stages.ingest import ColumnMapping, parse_row
from feedback_miner.stages.protocols import Embedder

__all__ = ["CentroidIndex", "Services", "check_week"]

log = logging.getLogger("feedback_miner.api")
_MAPPING = ColumnMapping()


def check_week(week: str) -> str:
    """The week if it is a real ISO week, else :class:`InputError` naming the parameter."""
    try:
        week_bounds(week)
    except InputError as exc:
        raise InputError(f"iso_week: {exc}") from exc
    return week


def _bad_chars(raw: Mapping[str, object]) -> str | None:
    """First field holding a lone surrogate or NUL (cannot be stored), if any."""
    for k, v in raw.items():
        if isinstance(v, str) and any(c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF for c in v):
            return k
    return None


class CentroidIndex:
    """Unit centroids of known problems per category, refreshed after runs (and every ``ttl_s``)."""

    def __init__(self, store: Store, *, threshold: float = 0.6, ttl_s: float = 300.0) -> None:
        self.store, self.threshold, self.ttl_s = store, threshold, ttl_s
        self._by_cat: dict[str, tuple[list[tuple[str, str]], np.ndarray]] = {}
        self._loaded_at = -1e18
        self._lock = threading.Lock()

    def refresh(self) -> None:
        rows = queries.active_centroids(self.store)
        by_cat: dict[str, tuple[list[tuple[str, str]], list[np.ndarray]]] = {}
        for pid, cat, title, vec in rows:
            ids, vecs = by_cat.setdefault(cat, ([], []))
            ids.append((pid, title))
            vecs.append(vec)
        built = {c: (ids, np.vstack(v)) for c, (ids, v) in by_cat.items()}
        with self._lock:
            self._by_cat, self._loaded_at = built, time.monotonic()

    def nearest(self, category: str, vec: np.ndarray) -> dict[str, Any] | None:
        if time.monotonic() - self._loaded_at > self.ttl_s:
            self.refresh()
        entry = self._by_cat.get(category)
        if entry is None or entry[1].shape[1] != vec.shape[0]:
            return None
        sims = entry[1] @ vec
        k = int(np.argmax(sims))
        if float(sims[k]) < self.threshold:
            return None
        return {"id": entry[0][k][0], "title": entry[0][k][1], "similarity": round(float(sims[k]), 4)}


class Services:
    """The long-lived collaborators of the API, created once by the app factory's lifespan."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder, clf: LinearSoftmaxClassifier,
                 classifier_version: str, *, online_embedder: Embedder | None = None) -> None:
        self.settings, self.store, self.embedder, self.clf = settings, store, embedder, clf
        self.classifier_version = classifier_version
        self.centroids = CentroidIndex(store)
        self.online_embedder = BatchingEmbedder(online_embedder or embedder)  # /v1/classify: concurrent calls share batches
        self._run_lock = threading.Lock()
        self._run_thread: threading.Thread | None = None
        key = settings.pseudonym_key
        self._pseudonym_key = usable_key(key.get_secret_value() if key else None)  # ConfigError at start-up if bad

    # -- ingest -----------------------------------------------------------------------------
    def parse_item(self, raw: Mapping[str, object], index: int, default_source: str) -> FeedbackItem:
        """The one ingest path of the API (items and webhooks): validated, redacted, pseudonymised."""
        bad = _bad_chars(raw)
        if bad:
            raise RowError(index, bad, "contains a NUL or an unpaired surrogate character")
        return parse_row(raw, index, _MAPPING, default_source, pseudonym_key=self._pseudonym_key)

    def _store_raw(self, index: int, raw: Mapping[str, object], default_source: str) -> dict[str, Any]:
        try:
            item = self.parse_item(raw, index, default_source)
        except RowError as err:
            return {"index": index, "status": "rejected", "id": None,
                    "error": {"field": err.field, "message": err.reason}}
        except (ValueError, OverflowError, OSError) as exc:  # e.g. an epoch time out of range
            return {"index": index, "status": "rejected", "id": None,
                    "error": {"field": None, "message": f"invalid value: {exc}"}}
        fid, outcome = self.store.upsert_feedback(item)
        return {"index": index, "status": outcome, "id": fid, "error": None}

    def ingest_batch(self, items: Sequence[Mapping[str, object]]) -> dict[str, Any]:
        """Validate and store each item; per-item results, one bad item rejects only itself."""
        limit = self.settings.max_batch_items
        if len(items) > limit:
            raise InputError(f"items: {len(items)} items exceed the limit of {limit} per request")
        results = [self._store_raw(n, raw, "api") for n, raw in enumerate(items)]
        counts = {k: sum(r["status"] == k for r in results) for k in ("stored", "duplicate", "updated", "rejected")}
        return {"counts": counts, "results": results}

    # -- classify ---------------------------------------------------------------------------
    def classify(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Category, confidence, secondary category and nearest known problem per text."""
        clean = [redact(" ".join(t.split())) for t in texts]
        preds, X = classify_texts(clean, self.online_embedder, self.clf)
        return [{"category": p.category, "confidence": round(p.confidence, 4),
                 "secondary_category": p.secondary_category, "problem": self.centroids.nearest(p.category, x)}
                for p, x in zip(preds, X)]

    # -- runs and digests -------------------------------------------------------------------
    def get_digest(self, week: str) -> Digest:
        d = self.store.get_digest(check_week(week))
        if d is None:
            raise NotFoundError(f"no digest for {week}: that week has never been run (POST /v1/runs with its week)")
        return Digest.from_dict(d)

    def start_run(self, week: str | None) -> dict[str, Any]:
        """Start the weekly run in a background thread; :class:`ConflictError` if one is running."""
        from feedback_miner.bootstrap import run_options
        from feedback_miner.services.lease import run_owner
        from feedback_miner.services.weekly import run_week

        week = check_week(week) if week else last_complete_week(datetime.now(UTC))
        if not queries.feedback_count_in_week(self.store, week):
            raise NotFoundError(f"no feedback stored for week {week}; ingest some first")
        s = self.settings
        with self._run_lock:
            if self._run_thread is not None and self._run_thread.is_alive():
                raise ConflictError("a run is already in progress; wait for it to finish (GET /v1/runs)")
            opts = run_options(s)
            # Claim the lease before answering, so that of two workers asked at once one answers 409
            # (ConflictError from the store) instead of both answering 202.
            run_id = self.store.claim_run(week, owner=run_owner(), stale_after_s=opts.stale_after_s)

            def work() -> None:
                try:
                    run_week(self.store, self.embedder, self.clf, week=week, classifier_version=self.classifier_version,
                             options=opts, claimed_run=run_id)
                except Exception:
                    log.exception("weekly run for %s failed", week)
                finally:
                    self.centroids.refresh()

            self._run_thread = threading.Thread(target=work, name=f"run-{week}", daemon=True)
            self._run_thread.start()
        return {"week": week, "status": "running", "started_at": datetime.now(UTC).isoformat()}

    def wait_for_run(self, timeout: float | None = None) -> None:
        """Block until the background run (if any) ends — for tests and shutdown."""
        if self._run_thread is not None:
            self._run_thread.join(timeout)

    def close(self) -> None:
        """Shutdown: let a running run finish (briefly) and stop the embedding worker."""
        self.wait_for_run(timeout=5)
        self.online_embedder.close()

    # -- classifier versions ---------------------------------------------------------------
    def serve_current(self) -> str:
        """Load the current (or the pinned) classifier version from this server's models dir and
        classify with it from now on."""
        from feedback_miner.adapters.artefacts import load_classifier

        clf, manifest = load_classifier(self.settings.models_dir / "classifier", self.settings.classifier_version)
        self.clf, self.classifier_version = clf, str(manifest["version"])
        return self.classifier_version

    def retrain(self, confirmed: Sequence[tuple[str, str]], *, weight: float | None) -> dict[str, Any]:
        """Retrain on this server's models dir with its own embedder, then serve the current version."""
        self._check_artefact_classifier()
        result = retrain(self.settings.models_dir, self.embedder, confirmed, current_version=self.classifier_version,
                         weight=5.0 if weight is None else weight)
        return {**result, "serving": self.serve_current()}

    def rollback(self, to: str | None) -> dict[str, Any]:
        self._check_artefact_classifier()
        version = roll_back(self.settings.models_dir, to)
        return {"version": version, "serving": self.serve_current()}

    def _check_artefact_classifier(self) -> None:
        # An injected classifier (tests, embedding apps) is not the artefact under models/: retraining or
        # rolling back would rewrite files this server does not classify with, so refuse.
        if self.classifier_version == "injected":
            raise ConflictError("this server classifies with an injected classifier, not one loaded from models/; "
                                "use `feedback-miner retrain` / `feedback-miner model rollback` instead")

    def runs(self) -> list[dict[str, Any]]:
        return [{**r, "started_at": r["started_at"].isoformat() if r["started_at"] else None,
                 "finished_at": r["finished_at"].isoformat() if r["finished_at"] else None}
                for r in queries.recent_runs(self.store)]
