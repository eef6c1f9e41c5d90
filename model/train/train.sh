#!/usr/bin/env bash
# The default model's pipeline, end to end, on this (CPU) machine:
#   corpus (npm pack of ../shared/corpus/train-packages.txt, never an evaluation package)
#   → byte-level BPE tokenizer (Hugging Face `tokenizers`) → tokenized corpus → training (python3-torch)
#   → ONNX export in the transformers.js layout → model folder.
# Needs: apt-get install -y python3-torch python3-onnx libopenblas0-openmp
#   npm run train                       (defaults below; MINUTES, PRESET, OUT, CORPUS override)
# The shipped model was trained on a GPU with the same scripts: see gpu_run.sh and the model's training.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
CORPUS=${CORPUS:-.corpus}; MINUTES=${MINUTES:-30}; PRESET=${PRESET:-small}; OUT=${OUT:-.corpus/model-cpu}
PY=${PYTHON:-/usr/bin/python3}
node model/train/gatherCorpus.mjs --packages ../shared/corpus/train-packages.txt --exclude ../shared/eval/dev-packages.txt --out "$CORPUS"
node model/train/trainTokenizer.mjs --corpus "$CORPUS" --out "$CORPUS/tokenizer.json"
node model/train/tokenizeCorpus.mjs --corpus "$CORPUS" --tokenizer "$CORPUS/tokenizer.json"
"$PY" model/train/train.py --data "$CORPUS" --preset "$PRESET" --minutes "$MINUTES" --seq 256 --batch 16 --fim-order spm --out "$CORPUS/run"
"$PY" model/train/export_onnx.py --run "$CORPUS/run" --tokenizer "$CORPUS/tokenizer.json" --out "$OUT"
# Sample completions of the new model (the demo: seven `obj.` sites, without and with the monitor).
npx tsx cli/demo.ts --model "$OUT"
