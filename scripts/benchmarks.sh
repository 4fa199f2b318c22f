#!/usr/bin/env bash
# Every benchmark in docs/BENCHMARKS.md, for one model, with the settings the table reports.
#
#   scripts/benchmarks.sh OUT_DIR [--engine ngram --model FILE | --model CHECKPOINT_FOLDER]
#
# Writes OUT_DIR/<benchmark>.jsonl (per sample; a rerun resumes) and OUT_DIR/<benchmark>.json
# (the metrics). The line tasks come from scripts/make_line_tasks.sh: the held-out packages
# installed in the virtualenv (never in a training corpus), 150 per package and set.
# The line tasks run with retrieval off (--context-sources none): the table reports the model on
# the file alone; the retrieval ablation has rows of its own. Set BENCH_QUICK=1 for a smoke run of
# a few tasks each. Takes about 40 minutes on 2 cores.
set -euo pipefail
out=${1:?usage: scripts/benchmarks.sh OUT_DIR [model options]}
shift
model=("$@")
cd "$(dirname "$0")/.."
mkdir -p "$out"
quick=${BENCH_QUICK:-0}
limit() { if [ "$quick" = 1 ]; then echo "--limit $1"; fi; }

tasks=$out/tasks
scripts/make_line_tasks.sh "$tasks"

source scripts/bench_run.sh
data=../shared/data/human-eval-infilling
run humaneval-single-line humaneval-infill --mode single-line --workers 2 $(limit 20)
run humaneval-multi-line humaneval-infill --mode multi-line --every 5 --workers 2 $(limit 20)
if [ -d "$data" ]; then
  run humaneval-random-span humaneval-infill --mode random-span --data "$data" --every 2 --workers 2 $(limit 20)
fi
run lines-plain lines --tasks "$tasks/lines-plain.jsonl" --context-sources none $(limit 20)
run lines-cross-file lines --tasks "$tasks/lines-cross-file.jsonl" --context-sources none $(limit 20)
run identifiers identifiers --limit "$([ "$quick" = 1 ] && echo 10 || echo 300)" --seed 0
run latency latency --positions "$([ "$quick" = 1 ] && echo 5 || echo 50)"
