"""The post-processing table from the per-sample logs of scripts/bench_postprocess.sh.

    python scripts/pp_table.py OUT_DIR

For each setting: pass@1 (HumanEval) or exact match / edit similarity (lines), the median time
per completion, and the share of suggestions that add no parse error to their file (tree-sitter,
prefix + suggestion + suffix against prefix + suffix).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from forecode.eval.humaneval import load_tasks
from forecode.eval.lines import read_tasks
from forecode.postprocess.syntax import errors_added

SETTINGS = (("raw", "raw model output"), ("pipeline", "pipeline"), ("ranked", "pipeline + ranking (k=2)"))


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def pct(xs: list[bool]) -> str:
    return f"{100 * sum(xs) / len(xs):.1f} %" if xs else "—"


def main(folder: Path) -> None:
    single = {t.task_id: t for t in load_tasks("single-line", None)}
    multi = {t.task_id: t for t in load_tasks("multi-line", None)}
    lines = {t.task_id: t for t in read_tasks(folder / "lines.jsonl")} if (folder / "lines.jsonl").is_file() else {}
    head = ("| setting | HumanEval single-line pass@1 | multi-line pass@1 | lines EM / ES | p50 per completion "
            "(single / multi / lines) | suggestions that parse in context (single / multi / lines) |")
    print(head)
    print("|---|---|---|---|---|---|")
    for key, label in SETTINGS:
        s, m, li = rows(folder / f"single-{key}.jsonl"), rows(folder / f"multi-{key}.jsonl"), rows(folder / f"lines-{key}.jsonl")
        clean_s = [errors_added(single[r["task_id"]].prompt, r["completion"], single[r["task_id"]].suffix, "python") == 0 for r in s]
        clean_m = [errors_added(multi[r["task_id"]].prompt, r["completion"], multi[r["task_id"]].suffix, "python") == 0 for r in m]
        clean_l = [errors_added(lines[r["task_id"]].prefix, r["prediction"], lines[r["task_id"]].suffix, "python") == 0 for r in li]
        em = f"{100 * sum(bool(r['exact_match']) for r in li) / len(li):.1f} / {sum(r['edit_similarity'] for r in li) / len(li):.1f}" if li else "—"
        p50 = " / ".join(f"{statistics.median(v):.0f} ms" if v else "—" for v in (
            [r["timings"]["generate_ms"] for r in s], [r["timings"]["generate_ms"] for r in m], [r["ms"] for r in li]))
        print(f"| {label} | {pct([r['passed'] for r in s])} ({len(s)}) | {pct([r['passed'] for r in m])} ({len(m)}) | "
              f"{em} ({len(li)}) | {p50} | {pct(clean_s)} / {pct(clean_m)} / {pct(clean_l)} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
