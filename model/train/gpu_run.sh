#!/usr/bin/env bash
# The GPU training run (issue 7), as sent to the lent H100: trains, then splits the weights into
# files small enough to come back (16 MiB each). Export to ONNX happens on the CPU machine
# (export_onnx.py) so that the exporter matches the one the pipeline uses there.
#   usage: [INIT=weights.npz LR=.. WARMUP=..] bash model/train/gpu_run.sh DATA_DIR OUT_DIR MINUTES
# The shipped model: run 1 from scratch (8 min); run 2 with INIT=run 1's weights, LR=1e-3, WARMUP=50 (8.6 min);
# run 3 with INIT=run 2's weights, FIM_ORDER=spm, LR=6e-4, WARMUP=30 (7 min).
set -euo pipefail
DATA=${1:-.gpu}; OUT=${2:-/tmp/out}; MIN=${3:-8}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c "import torch, tokenizers; print('torch', torch.__version__, 'tokenizers', tokenizers.__version__)"
python3 model/train/train.py --data "$DATA" --preset "${PRESET:-base}" --seq 2048 --batch 32 --accum 2 \
  --lr "${LR:-1.5e-3}" --warmup "${WARMUP:-100}" --minutes "$MIN" --device cuda --compile --eval-tokens 400000 \
  ${INIT:+--init "$INIT"} --fim-order "${FIM_ORDER:-psm}" --out "$OUT/run"
cd "$OUT/run" && split -b 15M -d weights.npz weights.npz.part- && rm weights.npz && ls -la
