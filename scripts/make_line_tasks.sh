#!/usr/bin/env bash
# The line tasks of docs/BENCHMARKS.md, cut from the held-out packages installed in the virtualenv
# (click, jinja2, attrs, networkx: never in a training corpus), 150 per package and set:
#
#   scripts/make_line_tasks.sh TASK_DIR
#
# writes TASK_DIR/lines-plain.jsonl and TASK_DIR/lines-cross-file.jsonl (kept when present).
set -euo pipefail
tasks=${1:?usage: scripts/make_line_tasks.sh TASK_DIR}
cd "$(dirname "$0")/.."
fc=.venv/bin/forecode
mkdir -p "$tasks"
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for kind in plain cross-file; do
  flag=$([ "$kind" = cross-file ] && echo --cross-file || true)
  if [ ! -s "$tasks/lines-$kind.jsonl" ]; then
    : >"$tasks/lines-$kind.tmp"
    for pkg in click jinja2 attr networkx; do
      $fc eval make-lines --source "$site/$pkg" $flag --per-file 2 --max-tasks 150 --seed 0 --quiet \
        --out "$tasks/$pkg-$kind.jsonl" >&2
      cat "$tasks/$pkg-$kind.jsonl" >>"$tasks/lines-$kind.tmp"
    done
    mv "$tasks/lines-$kind.tmp" "$tasks/lines-$kind.jsonl"
  fi
done
