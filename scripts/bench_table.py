"""Print the markdown table of docs/BENCHMARKS.md from the metrics that scripts/benchmarks.sh wrote.

    python scripts/bench_table.py NAME=OUT_DIR [NAME=OUT_DIR ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROWS = [  # (label, file, metric, scale, unit)
    ("HumanEval single-line infilling, pass@1", "humaneval-single-line", "pass@1", 100, "%"),
    ("HumanEval multi-line infilling (every 5th task), pass@1", "humaneval-multi-line", "pass@1", 100, "%"),
    ("HumanEval random-span infilling (every 2nd task), pass@1", "humaneval-random-span", "pass@1", 100, "%"),
    ("Lines, held-out packages: exact match", "lines-plain", "exact_match", 1, "%"),
    ("Lines, held-out packages: edit similarity", "lines-plain", "edit_similarity", 1, ""),
    ("Cross-file lines: exact match", "lines-cross-file", "exact_match", 1, "%"),
    ("Cross-file lines: edit similarity", "lines-cross-file", "edit_similarity", 1, ""),
    ("Identifiers at obj.name: top-1", "identifiers", "top1", 100, "%"),
    ("Identifiers at obj.name: top-5", "identifiers", "top5", 100, "%"),
    ("Identifiers: jedi top-1", "identifiers", "jedi_top1", 100, "%"),
    ("Identifiers: jedi top-5", "identifiers", "jedi_top5", 100, "%"),
    ("Latency p50 / p95 / p99 (ms)", "latency", ("p50_ms", "p95_ms", "p99_ms"), 1, ""),
]


def cell(folder: Path, name: str, metric: str | tuple[str, ...], scale: float, unit: str) -> str:
    path = folder / f"{name}.json"
    if not path.is_file() or not path.read_text().strip():
        return "—"
    m = json.loads(path.read_text())
    if isinstance(metric, tuple):
        return " / ".join(f"{m[k]:.0f}" for k in metric)
    tasks = m.get("tasks") or m.get("positions")
    return f"{m[metric] * scale:.1f}{unit} (n={tasks})"


def main(args: list[str]) -> None:
    if not args or any("=" not in a for a in args):
        sys.exit(__doc__)
    columns = [(a.split("=", 1)[0], Path(a.split("=", 1)[1])) for a in args]
    print("| benchmark | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for label, name, metric, scale, unit in ROWS:
        print(f"| {label} | " + " | ".join(cell(folder, name, metric, scale, unit) for _, folder in columns) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
