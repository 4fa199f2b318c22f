"""The retrieval ablation table from the per-sample logs of scripts/bench_ablation.sh.

    python scripts/ablation_table.py OUT_DIR

For each setting and task set: exact match (%), edit similarity (0-100), and the mean number of
retrieved snippets in the prompt. (Retrieval's time is scripts/bench_retrieval.py's to measure,
on an idle machine.)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pp_table import rows  # scripts/ is on the path when this runs as a script

SETTINGS = (("off", "retrieval off"), ("all", "all sources"), ("no-definition", "without definitions"),
            ("no-bm25", "without BM25"), ("no-recent", "without recent files"))
SETS = ("cross-file", "plain")


def cell(samples: list[dict[str, Any]]) -> str:
    if not samples:
        return "— | — | —"
    em = 100 * sum(bool(r["exact_match"]) for r in samples) / len(samples)
    es = sum(r["edit_similarity"] for r in samples) / len(samples)
    snippets = sum(len(r.get("snippets", [])) for r in samples) / len(samples)
    return f"{em:.1f} | {es:.1f} | {snippets:.1f}"


def main(folder: Path) -> None:
    counts = {s: len(rows(folder / f"{s}-off.jsonl")) for s in SETS}
    head = " | ".join(f"{s} (n={counts[s]}): EM % | ES | snippets" for s in SETS)
    print(f"| setting | {head} |")
    print("|---|" + "---|" * 3 * len(SETS))
    for key, label in SETTINGS:
        print(f"| {label} | " + " | ".join(cell(rows(folder / f"{s}-{key}.jsonl")) for s in SETS) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
