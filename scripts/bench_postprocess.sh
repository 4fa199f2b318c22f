#!/usr/bin/env bash
# The three-setting post-processing table of docs/BENCHMARKS.md: raw model output, the filter
# pipeline, and the pipeline over k ranked candidates, on HumanEval single-line (every 8th
# task) and multi-line (every 40th) infilling and on line tasks from two held-out packages.
#
#   scripts/bench_postprocess.sh OUT_DIR [model options, e.g. --model CHECKPOINT]
#
# Per-sample JSONL in OUT_DIR (a rerun resumes); then scripts/pp_table.py OUT_DIR prints the
# table: pass@1 or EM / ES, p50 latency, and the share of suggestions that parse cleanly in
# context. Takes about 30 minutes on 2 idle cores.
set -euo pipefail
out=${1:?usage: scripts/bench_postprocess.sh OUT_DIR [model options]}
shift
model=("$@")
cd "$(dirname "$0")/.."
fc=.venv/bin/forecode
mkdir -p "$out"
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ ! -s "$out/lines.jsonl" ]; then
  for pkg in click jinja2; do
    $fc eval make-lines --source "$site/$pkg" --per-file 2 --max-tasks 60 --seed 0 --quiet --out "$out/lines-$pkg.jsonl" >&2
  done
  cat "$out/lines-click.jsonl" "$out/lines-jinja2.jsonl" >"$out/lines.jsonl"
fi
for pp in raw pipeline ranked; do
  echo "== $pp" >&2
  $fc eval humaneval-infill --mode single-line --every 8 --workers 1 --postprocess "$pp" "${model[@]}" \
    --json --out "$out/single-$pp.jsonl" | tail -n 1 >"$out/single-$pp.json"
  $fc eval humaneval-infill --mode multi-line --every 40 --workers 1 --postprocess "$pp" "${model[@]}" \
    --json --out "$out/multi-$pp.jsonl" | tail -n 1 >"$out/multi-$pp.json"
  $fc eval lines --tasks "$out/lines.jsonl" --context-sources none --postprocess "$pp" --quiet "${model[@]}" \
    --json --out "$out/lines-$pp.jsonl" | tail -n 1 >"$out/lines-$pp.json"
done
.venv/bin/python scripts/pp_table.py "$out"
