"""Settings: typed, validated, read from the environment (prefix ``FM_``), passed in explicitly.

Nothing here is instantiated at import time; ``Settings()`` is built by the CLI or the app factory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_models_dir"]


def user_cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/feedback-miner/<name>``, else ``~/.cache/feedback-miner/<name>``: where
    compiled code (``numba``) and models built on this machine (``models``) are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "feedback-miner" / name


def default_models_dir() -> Path:
    """``models/`` shipped next to the package (source checkout or installed data files)."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "models", here / "models"):
        if (cand / "classifier").exists() or (cand / "seeds").exists():
            return cand
    return here.parent / "models"


class Settings(BaseSettings):
    """Every setting of Feedback Miner. Environment variables are ``FM_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="FM_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///feedback_miner.db",
        description="SQLAlchemy URL; default a SQLite file in the working directory.",
    )
    models_dir: Path = Field(default_factory=default_models_dir)
    embedder: Literal["sentence-transformers", "onnx-int8", "onnx-dynamic-int8"] = Field(
        default="onnx-int8",
        description="Model runtime for batch work (run, analyze, train). int8 ONNX: same model, classifier macro-F1 "
        "and clustering NMI/ARI equal to torch within noise, ~4x less CPU per text (models/MODEL_CARD.md, "
        "benchmarks/results/runtimes.json). Vectors are cached per runtime (model ids differ).")
    online_embedder: Literal["sentence-transformers", "onnx-int8", "onnx-dynamic-int8"] = Field(
        default="onnx-dynamic-int8",
        description="Model runtime for POST /v1/classify: the same model. onnx-dynamic-int8 (integer weight "
        "products, built once from the packaged model) uses half the CPU a text of onnx-int8; classifier "
        "macro-F1 equal within noise (0.608 vs 0.603, benchmarks/results/runtimes_dynamic.json); under 8 clients "
        "p99 25-29% lower in the same run (79.0 vs 104.8 ms in benchmarks/results/api_async.json).",
    )
    online_threads: int = Field(
        default=1, ge=1, le=64,
        description="Intra-op threads of the ONNX session answering POST /v1/classify. 1 (default, the batch "
        "runtime's own setting, so the API shares the batch session when both use one runtime): 2 gave a worse p99 under 8 clients on "
        "2 cores (docs/PERFORMANCE.md section 4); another value gives the API a session of its own.")
    session_secret: str | None = Field(
        default=None,
        description="Signs page sessions (at least 16 characters). Unset: a key generated once and kept in the "
        "store (table app_secrets), shared by every worker process; set it to keep that key out of the database.")
    key_cache_ttl_s: float = Field(
        default=0.0, ge=0.0, le=60.0,
        description="Seconds a verified API key is answered from a worker's memory. 0 (default): every request "
        "checks the key in the store, so a revoked key is refused at once by every worker; above 0 saves that "
        "read, and a key revoked from another process keeps working up to that long.")
    embed_batch_size: int = Field(default=64, ge=1, le=1024)
    jit_cache: bool = Field(
        default=True,
        description="Keep numba's compiled UMAP/pynndescent code on disk so each process loads it instead of "
        "compiling it again (about 7 s of CPU per process; feedback_miner.adapters.jit_cache).")
    jit_cache_dir: Path | None = Field(
        default=None,
        description="Directory of that cache; default $XDG_CACHE_HOME/feedback-miner/numba (~/.cache/...). "
        "NUMBA_CACHE_DIR, when set, wins.")
    metric_targets: dict[str, float] = Field(
        default_factory=dict,
        description='Targets over the defaults, JSON, e.g. {"nps": 40, "csat": 0.92} (keys: domain.metrics.METRIC_KEYS).')
    verbose: bool = Field(default=False, description="Show the libraries' own progress bars and warnings.")
    dask_scheduler: str | None = Field(
        default=None,
        description="Address of a running Dask scheduler (tcp://host:8786) for batch embedding; "
        "unset = embed in this process.",
    )
    classifier_version: str | None = Field(
        default=None, description="Classifier version to load; default the promoted one."
    )
    min_cluster_size: int = Field(default=0, ge=0, description="0 = chosen from the data size.")
    reduce_dims: int = Field(default=8, ge=2, le=384)
    random_state: int = 42
    cluster_workers: int = Field(
        default=0, ge=0, le=64,
        description="Processes over which a run's categories are clustered (the same problems whatever the "
        "number). 0 (default): both cores from 8,000 texts a run, one below (stages.cluster.PARALLEL_FROM).")
    top_n: int = Field(default=10, ge=1, le=100)
    baseline_weeks: int = Field(default=6, ge=2, le=52)
    match_threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    max_batch_items: int = Field(default=500, ge=1, le=10_000)
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    zendesk_secret: str | None = None
    freshdesk_secret: str | None = None
    jira_secret: str | None = None
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="FM_PSEUDONYM_KEY: secret for the keyed pseudonyms (pid_<hex>, HMAC-SHA256) that replace an "
        "external_id or customer_id holding an email, phone, card or IBAN. No default: without it such a row is "
        "refused with a ConfigError naming this variable; at least 16 characters (checked by "
        "feedback_miner.domain.pii_policy.usable_key). Keep it stable (a new key gives new pseudonyms).",
    )

    @field_validator("metric_targets")
    @classmethod
    def _targets(cls, v: dict[str, float]) -> dict[str, float]:
        from feedback_miner.domain.metrics import METRIC_KEYS

        unknown = sorted(set(v) - set(METRIC_KEYS))
        if unknown:
            raise ValueError(f"metric_targets names unknown metric(s) {unknown}; known: {', '.join(METRIC_KEYS)}")
        return v

    # -- delivery of the weekly digest (feedback-miner deliver / schedule); nothing is sent unless set
    public_url: str | None = Field(
        default=None, description="Base URL of the pages (e.g. https://feedback.example.com), for digest links.")
    slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming-webhook URL the digest summary is posted to (a secret).")
    smtp_host: str | None = Field(default=None, description="SMTP server for the digest e-mail.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port; 465 means TLS from the start.")
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server needs one.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password (no default).")
    smtp_from: str | None = Field(default=None, description="Sender address of the digest e-mail.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")
    digest_recipients: str = Field(default="", description="Comma-separated addresses the digest is e-mailed to.")
    delivery_timeout_s: float = Field(default=20.0, gt=0, le=300, description="Network timeout per channel.")
    schedule_time: str = Field(
        default="06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="UTC time of day (HH:MM) on Mondays when `feedback-miner schedule` runs the last week.")

    @field_validator("dask_scheduler")
    @classmethod
    def _scheduler(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        if "://" not in v and ":" not in v:
            raise ValueError(f"dask_scheduler {v!r} is not a scheduler address like tcp://127.0.0.1:8786")
        return v

    @field_validator("database_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if "://" not in v:
            raise ValueError(f"database_url {v!r} is not a SQLAlchemy URL like sqlite:///file.db")
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        if not v.startswith(("https://", "http://")) or any(ch in v for ch in " <>|\"'"):
            raise ValueError(f"public_url {v!r} must be an http(s) URL like https://feedback.example.com")
        return v
