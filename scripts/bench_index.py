"""Benchmark of the workspace index: indexing time and size on disk (cold, then warm from the
cache), the cost of an incremental update, and retrieval latency per query.

    nice -n 19 .venv/bin/python scripts/bench_index.py --tree /tmp/forecode-bench \\
        --copy stdlib --copy .venv/lib/python3.11/site-packages/transformers

`--copy stdlib` copies this interpreter's standard library (without site-packages); each other
`--copy DIR` copies that folder under its own name. Without `--copy` the tree is used as it is.
The last line printed is a JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import sysconfig
import tempfile
import time
from pathlib import Path

from forecode.context.index import WorkspaceIndex

SKIP = shutil.ignore_patterns("__pycache__", "site-packages", "dist-packages", "*.pyc")


def make_tree(tree: Path, sources: list[str]) -> None:
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    for source in sources:
        src = Path(sysconfig.get_paths()["stdlib"]) if source == "stdlib" else Path(source)
        shutil.copytree(src, tree / ("stdlib" if source == "stdlib" else src.name), ignore=SKIP, symlinks=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency(index: WorkspaceIndex, queries: int, seed: int, sources: tuple[str, ...]) -> dict[str, float]:
    rng = random.Random(seed)
    python = [p for p in index.paths if p.endswith(".py")]
    times: list[float] = []
    counts: list[int] = []
    for _ in range(queries):
        rel = rng.choice(python)
        text = (index.root / rel).read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        line = rng.randrange(len(lines))
        cursor = sum(len(x) + 1 for x in lines[:line]) + rng.randrange(len(lines[line]) + 1)
        window = (max(1, line + 1 - 60), line + 1 + 20)  # what a prompt window around the cursor holds
        t0 = time.perf_counter()
        found = index.snippets_at(text, cursor, rel, k=5, window=window, sources=sources)
        times.append((time.perf_counter() - t0) * 1000)
        counts.append(len(found))
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(percentile(times, 0.95), 3),
            "mean_ms": round(statistics.fmean(times), 3), "max_ms": round(max(times), 3),
            "snippets_mean": round(statistics.fmean(counts), 2), "queries": queries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, required=True, help="the workspace to index (made from --copy if given)")
    parser.add_argument("--copy", action="append", default=[], help="'stdlib' or a folder to copy into the tree")
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: a fresh temporary one)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    if args.copy:
        make_tree(args.tree, args.copy)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="forecode-bench-cache-"))
    if cache.exists():
        shutil.rmtree(cache)
    result: dict[str, object] = {"tree": str(args.tree), "copied": args.copy, "machine": platform.platform(),
                                 "python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                                 "date": time.strftime("%Y-%m-%d")}

    t0 = time.perf_counter()
    cold = WorkspaceIndex.open(args.tree, cache, progress=args.progress)
    result["cold"] = {**cold.stats.as_dict(), "wall_s": round(time.perf_counter() - t0, 2)}
    cold.close()

    t0 = time.perf_counter()
    index = WorkspaceIndex.open(args.tree, cache)
    result["warm"] = {**index.stats.as_dict(), "wall_s": round(time.perf_counter() - t0, 2)}

    # one edited file: re-chunked alone; the first query after it pays for nothing else
    rel = sorted(p for p in index.paths if p.endswith(".py"))[len(index.paths) // 2]
    target = index.root / rel
    original = target.read_text(encoding="utf-8")
    target.write_text(original + "\n\ndef benchmark_marker_function(value):\n    return value\n", encoding="utf-8")
    t0 = time.perf_counter()
    index.update_file(rel)
    update_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    hits = index.retrieve("benchmark_marker_function(value)", k=1)
    first_query_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    index.search.rebuild()
    rebuild_s = time.perf_counter() - t0
    target.write_text(original, encoding="utf-8")
    index.update_file(rel)
    result["incremental"] = {"file": rel, "update_file_ms": round(update_ms, 2), "query_after_ms": round(first_query_ms, 2),
                             "found_new_content": bool(hits and hits[0].path == rel), "full_bm25_rebuild_s": round(rebuild_s, 2)}

    index.search.rebuild()
    for p in sorted(index.paths)[:3]:  # a few documents in the recent ring, as in an editor session
        index.note_recent(p)
    result["latency_all_sources"] = latency(index, args.queries, args.seed, ("definition", "bm25", "recent"))
    result["latency_bm25"] = latency(index, args.queries, args.seed, ("bm25",))
    result["latency_definitions"] = latency(index, args.queries, args.seed, ("definition",))
    index.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
