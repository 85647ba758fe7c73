#!/usr/bin/env bash
# Create .venv and install Feedback Miner with its test extras. Torch is pinned to the CPU build
# (torch==2.13.0) and installed first so nothing pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
# Compile the clustering libraries' numba code once now (FM_JIT_CACHE=false skips it): the first
# run / analyze then loads it from the per-user cache instead of compiling (docs/PERFORMANCE.md).
if [ "${FM_JIT_CACHE:-true}" != "false" ]; then
  echo "setup: warming the JIT cache (UMAP, about 30 s once)" >&2
  HF_HUB_OFFLINE=1 .venv/bin/python -c "from feedback_miner.bootstrap import warm_jit_cache; print('setup: JIT cache in', warm_jit_cache())" >&2
fi
# Build the integer-arithmetic copy of the packaged model that answers POST /v1/classify
# (onnx-dynamic-int8, embedders.dynamic_int8_model: onnxruntime's own quantiser, no download).
echo "setup: building the onnx-dynamic-int8 model (about 10 s once)" >&2
HF_HUB_OFFLINE=1 .venv/bin/python -c "from feedback_miner.adapters.embedders import dynamic_int8_model; print('setup: model in', dynamic_int8_model())" >&2
