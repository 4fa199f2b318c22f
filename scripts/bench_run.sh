# Sourced by the benchmark scripts: run NAME EVAL_COMMAND [ARGS...] runs `forecode eval` for the
# model options in the array `model`, writes $out/NAME.jsonl (per sample; a rerun resumes) and
# keeps the last line (the metrics) as $out/NAME.json.
run() {
  local name=$1; shift
  echo "== $name" >&2
  .venv/bin/forecode eval "$@" "${model[@]}" --json --out "$out/$name.jsonl" | tail -n 1 >"$out/$name.json"
  cat "$out/$name.json" >&2
}
