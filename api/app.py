"""The FastAPI app factory: wires settings, store, model and classifier once, at start-up.

``create_app()`` builds everything from :class:`Settings`; tests inject doubles
(``embedder=``, ``classifier=``, ``store=``). Nothing is created at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from api.errors import BodyLimitMiddleware, install_error_handlers
from api.metrics import ApiMetrics, MetricsMiddleware
from api.model_sync import ModelChangeLock, ServedClassifierSync
from api.routes import feedback, followup, health, pages, reports, review, webhooks
from api.security import LoginRateLimitMiddleware, SecurityHeadersMiddleware
from api.services import Services
from api.sessions import SessionSigner
from feedback_miner.adapters.keys import KeyCache
from feedback_miner.adapters.ratelimit import MAX_FAILURES, WINDOW_S, FailureLimiter
from feedback_miner.adapters.store import Store
from feedback_miner.config import Settings
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.protocols import Embedder

__all__ = ["create_app", "create_app_from_env", "prepare_store"]

DESCRIPTION = f"""Feedback Miner turns customer feedback into prioritised recurring problems.

Authenticate with an API key in `X-API-Key` (or `Authorization: Bearer <key>`); create keys with
`feedback-miner keys create --role ingest|lead|reader|admin --name …`. Errors are JSON:
`{{"error", "message", "fields"}}`. A revoked key stops working at once, in every worker process
(each request checks the key in the store). A client with {MAX_FAILURES} failed key checks or logins
within {WINDOW_S} s is answered 429 with `Retry-After` until that window ends, by every worker.

Webhooks (`/v1/webhooks/zendesk|freshdesk|jira`) need an `ingest` key **and** the tool's secret
(`FM_ZENDESK_SECRET`, `FM_FRESHDESK_SECRET`, `FM_JIRA_SECRET`); each endpoint describes its signature
headers, signing formula and which placeholders fill each field. Times are ISO 8601.

People use the pages served by the same app: log in at `/login` with a key, then the digest (`/`),
problem pages and, for leads, the review page (`/review`).
"""


def _build(settings: Settings, embedder: Embedder | None, classifier: LinearSoftmaxClassifier | None,
           store: Store | None) -> Services:
    """Load whatever was not injected (the slow part: the embedding model), from one Container."""
    from feedback_miner.bootstrap import Container

    c = Container(settings)
    store = store or c.store
    version = "injected"
    if classifier is None:
        classifier, manifest = c.classifier()
        version = str(manifest["version"])
    batch = embedder or c.embedder()
    online = embedder or c.embedder(online=True)
    for e in {id(batch): batch, id(online): online}.values():
        e.embed(["warm-up"])  # first call pays one-off costs, not the first client
    svc = Services(settings, store, batch, classifier, version, online_embedder=online)
    svc.centroids.refresh()
    return svc


def create_app(settings: Settings | None = None, *, embedder: Embedder | None = None,
               classifier: LinearSoftmaxClassifier | None = None, store: Store | None = None) -> FastAPI:
    """Build the app. The model, classifier and store are created once, in the lifespan."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await run_in_threadpool(_build, settings, embedder, classifier, store)
        shared = app.state.services.store  # what several worker processes share lives here, not in a process
        app.state.sessions = await run_in_threadpool(SessionSigner.from_settings, settings, shared)
        app.state.key_cache = KeyCache(shared, ttl_s=settings.key_cache_ttl_s)
        app.state.auth_limiter = FailureLimiter(shared)
        try:
            yield
        finally:
            app.state.services.close()

    # Swagger UI and ReDoc assets come from the fastapi-offline package: /docs and /redoc work offline.
    app = FastAPIOffline(title="Feedback Miner API", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = ApiMetrics()
    install_error_handlers(app)
    app.state.model_lock = ModelChangeLock(settings.models_dir)  # one retrain or rollback at a time, across workers
    for r in (feedback.router, webhooks.router, reports.router, review.router, health.router, followup.router):
        app.include_router(r)
    pages.install(app)  # templates, static files, session signer, the pages' routes and error page
    app.add_middleware(ServedClassifierSync)  # follow a version another worker promoted
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(LoginRateLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def create_app_from_env() -> FastAPI:
    """The app of one worker process of ``feedback-miner serve --workers N`` (uvicorn's factory): its
    settings come from the environment (``FM_*``), which the serve command set for its workers."""
    return create_app(Settings())


def prepare_store(settings: Settings) -> None:
    """Before workers start: migrate the store and create the shared session key once, so workers
    starting together do not race for either."""
    from feedback_miner.adapters.store import open_store

    store = open_store(settings.database_url)
    try:
        SessionSigner.from_settings(settings, store)
    finally:
        store.engine.dispose()
