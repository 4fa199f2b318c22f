#!/usr/bin/env bash
# The retrieval ablation of docs/BENCHMARKS.md: line completion on the held-out packages (plain
# and cross-file tasks, as scripts/benchmarks.sh cuts them) with retrieval off, with every
# source on, and with each source (definition, bm25, recent) switched off in turn.
#
#   scripts/bench_ablation.sh OUT_DIR [model options, e.g. --model CHECKPOINT --threads 1]
#
# Per-sample JSONL in OUT_DIR (a rerun resumes); then scripts/ablation_table.py OUT_DIR prints
# the table. The tasks are shared with scripts/benchmarks.sh: OUT_DIR/tasks/lines-{plain,cross-file}.jsonl
# (scripts/make_line_tasks.sh). Set BENCH_QUICK=1 for a smoke run of 20 tasks per set.
set -euo pipefail
out=${1:?usage: scripts/bench_ablation.sh OUT_DIR [model options]}
shift
model=("$@")
cd "$(dirname "$0")/.."
fc=.venv/bin/forecode
mkdir -p "$out"
limit=()
if [ "${BENCH_QUICK:-0}" = 1 ]; then limit=(--limit 20); fi
scripts/make_line_tasks.sh "$out/tasks"
# name:sources (the names scripts/ablation_table.py prints, in its order)
settings=(off:none all:definition,bm25,recent no-definition:bm25,recent no-bm25:definition,recent
          no-recent:definition,bm25)
for kind in plain cross-file; do
  for s in "${settings[@]}"; do
    name=${s%%:*}
    echo "== $kind $name" >&2
    $fc eval lines --tasks "$out/tasks/lines-$kind.jsonl" --context-sources "${s#*:}" --index-cache "$out/index" \
      --quiet "${limit[@]}" "${model[@]}" --json --out "$out/$kind-$name.jsonl" | tail -n 1 >"$out/$kind-$name.json"
  done
done
.venv/bin/python scripts/ablation_table.py "$out"
