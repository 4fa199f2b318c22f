"""Latency of `Completer.complete` at real positions: end to end, to the first token, and decoding.

Positions are drawn from three kinds an editor asks at, in turn: the start of a statement (after
the indentation), inside a line, and the first line of a block body (after `def ...:` and the
like). The document is the file as the editor holds it while the user types that line: the rest
of the line after the cursor is not written yet.

Times (milliseconds) per position:
- `total_ms`: wall clock around `Completer.complete`, everything the caller waits for.
- `ttft_ms`: until the first token's logits exist: building the prompt plus the prefill.
- `decode_ms` and `new_tokens`: the token loop; `decode_tokens_per_s` is the sum of tokens over
  the sum of decode time, so long and short completions weigh by their tokens.
"""

from __future__ import annotations

import random
import re
import sysconfig
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from forecode.completer import Completer, CompletionRequest
from forecode.errors import InputError

Kind = Literal["statement_start", "mid_line", "block_body"]
KINDS: tuple[Kind, ...] = ("statement_start", "mid_line", "block_body")

# The default source: standard-library files of different sizes (latency needs real code, not
# held-out code; a long file keeps the prompt at its full budget, as in a real project).
STDLIB_FILES = ("argparse.py", "textwrap.py", "json/encoder.py", "dataclasses.py", "string.py")

_BLOCK_OPENER = re.compile(r"^\s*(async\s+)?(def|class|if|elif|else|for|while|with|try|except|finally|match|case)\b.*:\s*(#.*)?$")


@dataclass(frozen=True)
class Position:
    task_id: str
    sample: int  # how many earlier draws hit the same position
    kind: Kind
    document: str  # the file with the rest of the cursor's line removed
    cursor: int  # code points
    path: str


def stdlib_files() -> list[tuple[Path, str]]:
    """(file, label) of the default source files that this interpreter has."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out = [(root / rel, rel) for rel in STDLIB_FILES if (root / rel).is_file()]
    if not out:
        raise InputError(f"none of {', '.join(STDLIB_FILES)} is in {root}; pass --source DIR")
    return out


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(offset of the line's start, the line without its newline) of each line with code."""
    out, start = [], 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append((start, line.rstrip("\r")))
        start += len(line) + 1
    return out


def _lines_of_kind(text: str, kind: Kind) -> list[tuple[int, str]]:
    """The code lines a position of `kind` can sit on: inside a line needs two characters
    after the indentation; a block body is the line after a block opener."""
    lines = _code_lines(text)
    if kind == "statement_start":
        return lines
    if kind == "mid_line":
        return [(start, line) for start, line in lines if len(line.strip()) >= 2]
    return [lines[i] for i in range(1, len(lines)) if _BLOCK_OPENER.match(lines[i - 1][1])]


def sample_positions(files: Sequence[tuple[Path, str]], n: int, seed: int) -> list[Position]:
    """`n` positions, the kinds in turn, each on a line drawn at random (seeded) from all files.

    Draws are with replacement; the same position twice is two samples of one task. The first
    positions do not depend on `n`, so a rerun with more positions resumes a shorter one.
    """
    from forecode.eval.identifiers import read_python

    texts = [(str(p), label, text) for p, label in files if (text := read_python(p)) is not None]
    pools = {
        kind: [(path, label, text, start, line) for path, label, text in texts for start, line in _lines_of_kind(text, kind)]
        for kind in KINDS
    }
    kinds = [k for k in KINDS if pools[k]]
    if not kinds:
        raise InputError(f"no lines of code in {', '.join(label for _, label in files)}")
    rng = random.Random(seed)
    out: list[Position] = []
    seen: Counter[str] = Counter()
    for i in range(n):
        kind = kinds[i % len(kinds)]
        path, label, text, start, line = rng.choice(pools[kind])
        indent = len(line) - len(line.lstrip())
        column = rng.randint(indent + 1, len(line) - 1) if kind == "mid_line" else indent  # 0-based
        cursor = start + column
        row = text.count("\n", 0, start) + 1
        document = text[:cursor] + text[start + len(line) :]
        task_id = f"{label}:{row}:{column + 1}:{kind}"
        out.append(Position(task_id, seen[task_id], kind, document, cursor, path))
        seen[task_id] += 1
    return out


def measure(completer: Completer, position: Position, max_tokens: int) -> dict[str, Any]:
    """One completion, timed; the per-sample record."""
    request = CompletionRequest(text=position.document, cursor=position.cursor, path=position.path, max_tokens=max_tokens)
    t0 = time.perf_counter()
    result = completer.complete(request)
    total_ms = (time.perf_counter() - t0) * 1000
    timings = result.debug["timings"]
    [gen] = timings["generations"]
    return {
        "task_id": position.task_id,
        "sample": position.sample,
        "kind": position.kind,
        "total_ms": round(total_ms, 3),
        "ttft_ms": round(timings["prompt_ms"] + gen["prefill_ms"], 3),
        "prefill_ms": gen["prefill_ms"],
        "decode_ms": gen["decode_ms"],
        "new_tokens": gen["new_tokens"],
        "prompt_tokens": result.debug["prompt_tokens"],
        "finish_reason": result.suggestions[0].finish_reason,
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating linearly between the closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    at = (len(ordered) - 1) * q / 100
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def summarize(records: Sequence[dict[str, Any]], threads: int) -> dict[str, Any]:
    if not records:
        raise InputError("no positions were measured")
    total = [r["total_ms"] for r in records]
    ttft = [r["ttft_ms"] for r in records]
    decode_s = sum(r["decode_ms"] for r in records) / 1000
    tokens = sum(r["new_tokens"] for r in records)
    return {
        "p50_ms": round(percentile(total, 50), 2),
        "p95_ms": round(percentile(total, 95), 2),
        "p99_ms": round(percentile(total, 99), 2),
        "ttft_p50_ms": round(percentile(ttft, 50), 2),
        "ttft_p95_ms": round(percentile(ttft, 95), 2),
        "decode_tokens_per_s": round(tokens / decode_s, 1) if decode_s > 0 else 0.0,
        "new_tokens_mean": round(tokens / len(records), 1),
        "prompt_tokens_mean": round(sum(r["prompt_tokens"] for r in records) / len(records), 1),
        "positions": len(records),
        "threads": threads,
    }
