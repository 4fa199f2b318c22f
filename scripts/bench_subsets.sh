#!/usr/bin/env bash
# The quick subsets of the first table in docs/BENCHMARKS.md, for one model:
# HumanEval single-line (every 8th task), lines from click (plain), identifiers (300), latency (50).
#
#   scripts/bench_subsets.sh OUT_DIR [model options, e.g. --model CHECKPOINT_FOLDER]
#
# Writes OUT_DIR/<benchmark>.jsonl (per sample; a rerun resumes) and OUT_DIR/<benchmark>.json
# (the metrics). On 2 cores beside a training run: HumanEval 7.5 min, click 1 min, identifiers
# 35 min (jedi), latency 5 min; latency means something only on an idle machine.
set -euo pipefail
out=${1:?usage: scripts/bench_subsets.sh OUT_DIR [model options]}
shift
model=("$@")
cd "$(dirname "$0")/.."
mkdir -p "$out"
scripts/make_line_tasks.sh "$out/tasks"

source scripts/bench_run.sh
run humaneval-single-line-every-8 humaneval-infill --mode single-line --every 8 --workers 2 --postprocess pipeline
run lines-click lines --tasks "$out/tasks/click-plain.jsonl" --postprocess pipeline --context-sources none --quiet
run identifiers identifiers --limit 300 --seed 0
run latency latency --positions 50
