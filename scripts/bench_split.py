"""Line and identifier metrics split by package (the first folder of each task's path), from the
per-sample files scripts/benchmarks.sh wrote:

    python scripts/bench_split.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _package(task_id: str) -> str:
    return task_id.split("/", 1)[0]


def main(out: Path) -> None:
    print("| set | package | tasks | exact match % | edit similarity |")
    print("|---|---|---|---|---|")
    for name in ("lines-plain", "lines-cross-file"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in _records(out / f"{name}.jsonl"):
            groups[_package(r["task_id"])].append(r)
        for pkg, rs in sorted(groups.items()):
            em = 100 * sum(bool(r["exact_match"]) for r in rs) / len(rs)
            es = sum(float(r["edit_similarity"]) for r in rs) / len(rs)
            print(f"| {name} | {pkg} | {len(rs)} | {em:.1f} | {es:.1f} |")
    print()
    print("| package | positions | model top-1 % | model top-5 % | jedi top-1 % | jedi top-5 % |")
    print("|---|---|---|---|---|---|")
    groups = defaultdict(list)
    for r in _records(out / "identifiers.jsonl"):
        groups[_package(r["path"])].append(r)
    for pkg, rs in sorted(groups.items()):
        def top(key: str, k: int) -> float:
            return 100 * sum(r[key] is not None and r[key] < k for r in rs) / len(rs)
        print(f"| {pkg} | {len(rs)} | {top('model_rank', 1):.1f} | {top('model_rank', 5):.1f} | {top('jedi_rank', 1):.1f} | {top('jedi_rank', 5):.1f} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
