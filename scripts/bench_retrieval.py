"""What retrieval adds to a completion: prompt building with repository context against
without, at random cursors in a workspace, through the same Completer the servers use.

    .venv/bin/python scripts/bench_retrieval.py --root /tmp/forecode-bench [--queries 200]

The index is opened (and built, the first time) before timing. For each cursor the prompt is
built once untimed (warming the tokenizer's cache for the window, as typing does), then with
every context source and with none; the difference of the medians is what retrieval adds at p50. The last line printed is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from forecode.api.options import CONTEXT_SOURCES
from forecode.completer import Completer
from forecode.context.workspaces import Workspaces
from forecode.engine.loading import load_engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None, help="index cache folder (default: ~/.cache/forecode/index)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    workspaces = Workspaces(args.cache)
    t0 = time.perf_counter()
    index = workspaces.get(args.root)
    open_s = time.perf_counter() - t0
    completer = Completer(load_engine("builtin", threads=1), workspaces)
    rng = random.Random(args.seed)
    files = sorted(p for p in index.paths if p.endswith(".py"))
    on: list[float] = []
    off: list[float] = []
    snippets: list[int] = []
    while len(on) < args.queries:
        path = index.root / rng.choice(files)
        text = path.read_text(encoding="utf-8", errors="replace")
        if len(text) < 200:
            continue
        cursor = rng.randrange(len(text) // 4, len(text))
        # As the editor's last keystroke would have, an untimed request first tokenizes the
        # window (the tokenizer caches the words it has seen): else whichever setting ran first
        # would pay for it. The retrieved snippets stay cold.
        completer.build_prompt(text, cursor, 64, path=str(path))
        for sources, out in ((CONTEXT_SOURCES, on), ((), off)):
            t = time.perf_counter()
            built = completer.build_prompt(text, cursor, 64, path=str(path), workspace_root=str(index.root),
                                           context_sources=tuple(sources))
            out.append((time.perf_counter() - t) * 1000)
            if sources:
                snippets.append(len(built.context.files) if built.context is not None else 0)
    p50_on, p50_off = statistics.median(on), statistics.median(off)
    result = {"root": str(args.root), "files": len(index.paths), "open_s": round(open_s, 2), "queries": len(on),
              "prompt_ms_p50_with_retrieval": round(p50_on, 2), "prompt_ms_p50_without": round(p50_off, 2),
              "retrieval_adds_p50_ms": round(p50_on - p50_off, 2),
              "prompt_ms_p95_with_retrieval": round(sorted(on)[int(0.95 * len(on))], 2),
              "prompt_ms_p95_without": round(sorted(off)[int(0.95 * len(off))], 2),
              "mean_snippets": round(sum(snippets) / len(snippets), 2), "date": time.strftime("%Y-%m-%d")}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
