"""Batch embedding on a running Dask cluster, behind the :class:`~feedback_miner.stages.protocols.Embedder`
protocol.

``DaskEmbedder(address).embed(texts)`` cuts the texts into the batches the local runtime would
encode (:func:`.worker.batch_plan`), groups them into partitions, submits one task per partition,
and puts the vectors back in the order of ``texts``: the same vectors as the local runtime's, bit
for bit (a text's vector depends on the texts it is padded with, so the batches must match). Each worker loads the model once
(:class:`ModelPlugin` when it joins; :func:`.worker.load_model` caches it for the process). A worker
that dies mid-batch loses nothing: the scheduler runs its partitions again on another worker.

The embedder's ``model_id`` is the one the workers' runtime reports, so vectors land under the same
cache key as the local runtime's (``all-MiniLM-L6-v2`` for sentence-transformers,
``all-MiniLM-L6-v2-onnx-int8`` for int8 ONNX: different runtimes never share a key); every
partition's result carries its model id and a mismatch is an error, never a cached vector.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from distributed import Client, WorkerPlugin

from feedback_miner.adapters.distributed.worker import RuntimeSpec, batch_plan, embed_batches, load_model, model_info
from feedback_miner.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from distributed import Worker

    from feedback_miner.config import Settings
    from feedback_miner.stages.protocols import Embedder

__all__ = ["DaskEmbedder", "ModelPlugin", "make_dask_embedder"]


class ModelPlugin(WorkerPlugin):
    """Loads the model on each worker as it starts or joins the cluster."""

    def __init__(self, spec: RuntimeSpec) -> None:
        self.spec = spec
        self.name = f"feedback-miner-model-{spec.runtime}-{spec.batch_size}"
        self.idempotent = True  # registering again (a second client) re-runs nothing

    async def setup(self, worker: Worker) -> None:
        # Off the worker's event loop: loading takes seconds, and the worker keeps answering heartbeats.
        await asyncio.to_thread(load_model, self.spec)


class DaskEmbedder:
    """The embedding model run on the workers of a Dask cluster.

    ``address`` is a scheduler address (``tcp://host:8786``) or a ``distributed`` cluster object;
    about ``partition_size`` texts (whole batches) go to a worker at a time; ``retries`` re-runs a partition whose task
    raised (a dead worker's partitions are re-run by the scheduler regardless); ``timeout_s`` bounds
    the connection (default Dask's ``distributed.comm.timeouts.connect``, 30 s, env
    ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT``).
    """

    def __init__(self, address: str | Any, *, runtime: str = "sentence-transformers", batch_size: int = 64,
                 partition_size: int = 256, retries: int = 2, timeout_s: float | None = None) -> None:
        if partition_size < 1:
            raise ConfigError(f"partition_size must be >= 1, got {partition_size}")
        self.spec = RuntimeSpec(runtime, batch_size)  # type: ignore[arg-type]  # checked in __post_init__
        self.partition_size = partition_size
        self.retries = retries
        where = getattr(address, "scheduler_address", address)
        try:
            kw: dict[str, Any] = {} if timeout_s is None else {"timeout": timeout_s}  # default: Dask's connect timeout
            self.client = Client(address, set_as_default=False, **kw)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {where}: {exc}") from exc
        try:
            self.client.register_plugin(ModelPlugin(self.spec))
        except (ImportError, OSError, RuntimeError) as exc:
            raise ModelError(f"the Dask workers at {where} cannot load the {runtime} model: {exc}") from exc
        self._info: dict[str, Any] | None = None

    def _worker_info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = dict(self.client.submit(model_info, self.spec, pure=False).result())
        return self._info

    @property
    def model_id(self) -> str:
        return str(self._worker_info()["model_id"])

    @property
    def dim(self) -> int:
        return int(self._worker_info()["dim"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        want = self.model_id
        # The runtime's own batches, grouped into partitions: the same batches as one local call.
        batches = batch_plan(self.spec, texts)
        slots = max(1, sum(self.client.nthreads().values()))  # type: ignore[no-untyped-call]  # worker threads now
        # partition_size texts at most, and two partitions per worker thread when there are enough batches
        per = max(1, min(self.partition_size // self.spec.batch_size, -(-len(batches) // (2 * slots))))
        parts = [batches[i : i + per] for i in range(0, len(batches), per)]
        run = uuid.uuid4().hex[:12]
        futures = [self.client.submit(embed_batches, self.spec, [[texts[j] for j in b] for b in part],
                                      key=f"fm-embed-{run}-{k}", retries=self.retries, pure=False)
                   for k, part in enumerate(parts)]
        try:
            results = self.client.gather(futures)  # type: ignore[no-untyped-call]
        finally:
            for f in futures:
                f.release()  # type: ignore[no-untyped-call]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for part, (model_id, vecs) in zip(parts, results):
            if model_id != want:
                raise ModelError(f"a Dask worker embedded with {model_id!r}, expected {want!r}: the workers run "
                                 "different model runtimes; nothing was cached")
            out[np.concatenate(part)] = vecs
        return out

    def workers(self) -> list[dict[str, Any]]:
        """:func:`.worker.model_info` of every worker (model id, pid, times it loaded the model)."""
        return list(self.client.run(model_info, self.spec).values())

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


def make_dask_embedder(settings: Settings) -> Embedder:
    """The batch embedder for ``settings``: on the Dask cluster at ``settings.dask_scheduler``,
    with the runtime and batch size the local path would use."""
    if not settings.dask_scheduler:
        raise ConfigError("no Dask scheduler configured (set FM_DASK_SCHEDULER or pass --scheduler ADDRESS)")
    return DaskEmbedder(settings.dask_scheduler, runtime=settings.embedder, batch_size=settings.embed_batch_size)
