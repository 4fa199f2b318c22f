"""Line completion on real code: tasks cut from source files, scored with CodeXGLUE's line metrics.

A task is a cursor in a real file, either at the start of a statement (after its indentation) or
at a token boundary inside a line. The model sees the file with the rest of that line removed and
must write it back. The task format is public (docs/EVAL_TASKS.md), so users can score their own
code; `make_line_tasks` is one way to make such a file, `read_tasks` checks one, and
`score_line_tasks` scores one with the same `Completer` the editor uses.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import io
import json
import keyword
import os
import random
import re
import time
import tokenize
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from forecode.completer import DEFAULT_CANDIDATES, CompletionRequest, CompletionResult
from forecode.context.retrieval import SOURCES
from forecode.context.workspaces import Workspaces
from forecode.errors import InputError
from forecode.eval.metrics import edit_similarity, exact_match
from forecode.eval.report import SampleLog

MAX_FILE_BYTES = 1024 * 1024  # larger .py files are generated tables, not code people type
MIN_REFERENCE_CHARS = 3  # non-blank characters of code (a trailing comment not counted) left to complete
DEFAULT_PER_FILE = 5
KINDS = ("statement", "inside")

_STRING_TOKENS = frozenset(
    getattr(tokenize, name) for name in ("STRING", "FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, name)
)
_LAYOUT_TOKENS = frozenset({tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER})
_NOT_NAMES = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
_WORD = re.compile(r"\w+")


# ---------------------------------------------------------------------------------------------
# The task


@dataclass(frozen=True)
class LineTask:
    """One line to complete. `prefix + reference + suffix` is the file; the model sees `prefix + suffix`."""

    task_id: str
    prefix: str  # the file before the cursor
    suffix: str  # the file after the reference: the line's trailing blanks (if any), then its newline
    reference: str  # the rest of the cursor's line, without trailing blanks or the newline
    path: str | None = None  # relative to `workspace`
    language: str = "python"
    workspace: str | None = None  # the folder `path` is relative to (a repository or package)
    kind: str | None = None  # "statement" (cursor at a statement start) or "inside" (within a line)

    @property
    def document(self) -> str:
        """The text the model is given: the file with the reference cut out."""
        return self.prefix + self.suffix

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task_id": self.task_id, "path": self.path, "language": self.language}
        if self.workspace is not None:
            out["workspace"] = self.workspace
        if self.kind is not None:
            out["kind"] = self.kind
        out.update(reference=self.reference, prefix=self.prefix, suffix=self.suffix)
        return out


_REQUIRED = ("task_id", "prefix", "suffix", "reference")
_OPTIONAL = ("path", "language", "workspace", "kind")


def parse_task(record: object, where: str) -> LineTask:
    """A task from one decoded JSON line; `where` (FILE:LINE) starts every error message."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: a task is a JSON object, not {type(record).__name__}")
    missing = [k for k in _REQUIRED if k not in record]
    if missing:
        raise InputError(f"{where}: missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    for key in _REQUIRED:
        if not isinstance(record[key], str):
            raise InputError(f"{where}: field {key!r} must be a string, not {type(record[key]).__name__}")
    for key in _OPTIONAL:
        if record.get(key) is not None and not isinstance(record[key], str):
            raise InputError(f"{where}: field {key!r} must be a string or null, not {type(record[key]).__name__}")
    if not record["task_id"]:
        raise InputError(f"{where}: field 'task_id' is empty")
    if "\n" in record["reference"]:
        raise InputError(f"{where}: field 'reference' spans lines; a line task completes one line")
    return LineTask(
        task_id=record["task_id"], prefix=record["prefix"], suffix=record["suffix"], reference=record["reference"],
        path=record.get("path"), language=record.get("language") or "python", workspace=record.get("workspace"),
        kind=record.get("kind"),
    )


def read_tasks(path: str | Path) -> list[LineTask]:
    """Every task in a JSONL file; the first bad line stops it with `FILE:LINE: what is wrong`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    tasks: list[LineTask] = []
    first_line: dict[str, int] = {}
    for n, raw in enumerate(data.split(b"\n"), 1):
        where = f"{path}:{n}"
        try:
            line = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}: not valid UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})") from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
        task = parse_task(record, where)
        if task.task_id in first_line:
            raise InputError(f"{where}: task_id {task.task_id!r} is also on line {first_line[task.task_id]}")
        first_line[task.task_id] = n
        tasks.append(task)
    if not tasks:
        raise InputError(f"{path}: has no tasks")
    return tasks


def write_tasks(tasks: Iterable[LineTask], path: str | Path) -> None:
    """One JSON object per line, written to a temporary file first so a killed run leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for task in tasks:
            f.write(json.dumps(task.to_json(), ensure_ascii=False) + "\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Where tasks can be cut from one file


@dataclass(frozen=True)
class Position:
    """A cursor the task builder may choose: 0-based `row`, `col` in code points."""

    row: int
    col: int
    kind: str  # one of KINDS
    names: tuple[str, ...]  # identifiers in the reference (builtins and keywords left out)


@dataclass(frozen=True)
class ScannedFile:
    """A parsed source file: its positions and what it defines, for the cross-file rule."""

    rel_path: str
    text: str  # line endings normalised to "\n"
    positions: tuple[Position, ...]
    module_names: frozenset[str]  # bound at module level (outside any def or class)
    bound_names: frozenset[str]  # bound anywhere in the file
    _line_starts: tuple[int, ...] = field(repr=False)
    _words: dict[str, list[int]] = field(repr=False)  # word -> sorted offsets where it occurs

    def span(self, pos: Position) -> tuple[int, int]:
        """Offsets where the reference at `pos` starts and ends."""
        start = self._line_starts[pos.row] + pos.col
        line_end = self.text.find("\n", start)
        line_end = len(self.text) if line_end < 0 else line_end
        return start, start + len(self.text[start:line_end].rstrip())

    def cut(self, pos: Position) -> tuple[str, str, str]:
        """(prefix, reference, suffix) for a cursor at `pos`."""
        start, end = self.span(pos)
        return self.text[:start], self.text[start:end], self.text[end:]

    def occurs_outside(self, word: str, pos: Position) -> bool:
        """Whether `word` occurs as a whole word in the file other than in the reference at `pos`."""
        offsets = self._words.get(word, [])
        start, end = self.span(pos)
        inside = bisect.bisect_left(offsets, end) - bisect.bisect_left(offsets, start)
        return len(offsets) > inside


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _code_end(tokens: Sequence[tokenize.TokenInfo], row: int) -> int:
    """Column where the code of `row` ends (before a trailing comment)."""
    return max((t.end[1] for t in tokens if t.end[0] == row and t.type not in _LAYOUT_TOKENS), default=0)


def line_positions(text: str) -> list[Position]:
    """Every cursor a task may use in Python source `text` (newlines normalised).

    Rows are the first physical line of each logical line; continuation lines of a multi-line
    statement, lines inside or ending inside a string, string-only lines (docstrings), comments and
    blank lines give none. On a row, the cursor may sit at the statement's first token ("statement")
    or at the start of any later token ("inside"), provided at least MIN_REFERENCE_CHARS non-blank
    characters of code remain before the line's end or its comment.
    Raises SyntaxError or tokenize.TokenError when the text does not tokenize.
    """
    lines = text.split("\n")
    out: list[Position] = []
    logical: list[tokenize.TokenInfo] = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if logical:
                out.extend(_positions_on_first_row(logical, lines))
            logical = []
        elif tok.type not in _LAYOUT_TOKENS:
            logical.append(tok)
    return out


def _positions_on_first_row(logical: list[tokenize.TokenInfo], lines: list[str]) -> Iterator[Position]:
    row = logical[0].start[0]  # 1-based, as tokenize counts
    on_row = [t for t in logical if t.start[0] == row]
    if all(t.type in _STRING_TOKENS for t in on_row):
        return  # a docstring or a bare string
    if any(t.end[0] > row for t in on_row):
        return  # a string that goes on past this line: the reference would end inside it
    code_end = _code_end(on_row, row)
    used = _used_names(logical, row)
    line = lines[row - 1]
    for i, tok in enumerate(on_row):
        col = tok.start[1]
        if len("".join(line[col:code_end].split())) < MIN_REFERENCE_CHARS:
            break  # later tokens leave even less
        names = tuple(dict.fromkeys(t.string for j, t in enumerate(on_row[i:], start=i) if j in used))
        yield Position(row - 1, col, "statement" if i == 0 else "inside", names)


def _used_names(logical: list[tokenize.TokenInfo], row: int) -> set[int]:
    """Indices of the tokens on `row` that use a name: not keywords or builtins, not keyword-argument
    or parameter names (`f(path=...)`), and not module paths in an import (`from a.b import c` uses c)."""
    used: set[int] = set()
    depth = 0
    module_path = logical[0].string in ("import", "from")
    for j, tok in enumerate(logical):
        if tok.start[0] != row:
            break
        if tok.type == tokenize.OP:
            depth += tok.string in "([{"
            depth -= tok.string in ")]}"
            continue
        if tok.type != tokenize.NAME:
            continue
        if tok.string == "import":
            module_path = logical[0].string == "import"  # `import a.b as c` names only modules
        following = logical[j + 1] if j + 1 < len(logical) else None
        keyword_arg = depth > 0 and following is not None and following.string == "="
        if not (module_path or keyword_arg or tok.string in _NOT_NAMES):
            used.add(j)
    return used


def _bound_names(tree: ast.Module) -> frozenset[str]:
    """Every name a parsed module binds, at any depth."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
    return frozenset(bound)


def _module_level_names(body: list[ast.stmt], local_modules: frozenset[str]) -> Iterator[str]:
    """Names a module body defines: def, class and assignment targets, and names imported from the
    workspace itself (re-exports); inside if/try/with/for blocks too, never inside a def or class."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield stmt.name
            continue
        if isinstance(stmt, ast.ImportFrom) and (stmt.level > 0 or (stmt.module or "").split(".")[0] in local_modules):
            yield from (a.asname or a.name for a in stmt.names if a.name != "*")
        targets: list[ast.AST] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            targets = [stmt.target]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in stmt.items if item.optional_vars is not None]
        for target in targets:
            yield from (n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        if isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar)):
            for block in ("body", "orelse", "finalbody"):
                yield from _module_level_names(getattr(stmt, block, []), local_modules)
            if isinstance(stmt, (ast.Try, ast.TryStar)):
                for handler in stmt.handlers:
                    yield from _module_level_names(handler.body, local_modules)


@dataclass(frozen=True)
class ParsedFile:
    """A file that parses, with the names it binds; small enough to keep for a whole workspace."""

    rel_path: str
    text: str  # line endings normalised to "\n"
    module_names: frozenset[str]  # bound at module level (outside any def or class)
    bound_names: frozenset[str]  # bound anywhere in the file


def parse_file(rel_path: str, text: str, local_modules: frozenset[str] = frozenset()) -> ParsedFile:
    """Raises SyntaxError (or ValueError, RecursionError) when `text` does not parse."""
    text = normalise_newlines(text)
    tree = ast.parse(text)
    return ParsedFile(rel_path, text, frozenset(_module_level_names(tree.body, local_modules)), _bound_names(tree))


def scan_parsed(parsed: ParsedFile) -> ScannedFile:
    """Positions and word offsets of a parsed file. Raises tokenize.TokenError or SyntaxError
    when it does not tokenize."""
    text = parsed.text
    positions = tuple(line_positions(text))
    starts = [0]
    for line in text.split("\n")[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    words: dict[str, list[int]] = defaultdict(list)
    for m in _WORD.finditer(text):
        words[m.group()].append(m.start())
    return ScannedFile(parsed.rel_path, text, positions, parsed.module_names, parsed.bound_names, tuple(starts), dict(words))


def scan_file(rel_path: str, text: str, local_modules: frozenset[str] = frozenset()) -> ScannedFile:
    """Positions and names of one Python file (`parse_file`, then `scan_parsed`)."""
    return scan_parsed(parse_file(rel_path, text, local_modules))


# ---------------------------------------------------------------------------------------------
# Building a task set from folders


@dataclass
class MakeSummary:
    files_seen: int = 0
    files_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> files
    positions: int = 0  # cursors the files offer (after --cross-file, when given)
    sampled: int = 0  # tasks chosen before --max-tasks
    tasks: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


def _source_files(root: Path) -> list[Path]:
    """Python files under `root`, sorted; hidden folders and __pycache__ are passed over."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        found.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py"))
    return found


def _local_modules(root: Path) -> frozenset[str]:
    """Top-level import names that resolve inside `root`: its own package name, its packages and modules."""
    names = {p.stem for p in root.glob("*.py")} | {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    if (root / "__init__.py").is_file():
        names.add(root.name)
    return frozenset(names)


def _read_python(path: Path) -> tuple[str | None, str | None]:
    """(text, None) or (None, the reason it is skipped)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None, f"larger than {MAX_FILE_BYTES // 1024} KiB"
        data = path.read_bytes()
    except OSError:
        return None, "unreadable"
    if b"\x00" in data:
        return None, "binary"
    try:
        return data.decode("utf-8").removeprefix("\ufeff"), None
    except UnicodeDecodeError:
        return None, "not UTF-8"


def cross_file_names(scan: ScannedFile, pos: Position, defined_elsewhere: dict[str, set[str]]) -> list[str]:
    """Names in the reference at `pos` that the model can only know from another file: defined at
    module level in another file of the workspace, not bound anywhere in this file, and not written
    anywhere in this file outside the reference (code, comments and strings alike)."""
    return [
        n for n in pos.names
        if not n.startswith("__") and n != "_"
        and defined_elsewhere.get(n, set()) - {scan.rel_path}
        and n not in scan.bound_names
        and not scan.occurs_outside(n, pos)
    ]


def _choose(positions: Sequence[Position], per_file: int, rng: random.Random) -> list[Position]:
    """Up to `per_file` positions on distinct rows; on each row a statement start or an inside
    position with even odds, when the row has both."""
    by_row: dict[int, list[Position]] = defaultdict(list)
    for p in positions:
        by_row[p.row].append(p)
    rows = rng.sample(sorted(by_row), min(per_file, len(by_row)))
    chosen = []
    for row in sorted(rows):
        starts = [p for p in by_row[row] if p.kind == "statement"]
        inside = [p for p in by_row[row] if p.kind == "inside"]
        pool = starts if starts and (not inside or rng.random() < 0.5) else inside
        chosen.append(rng.choice(pool))
    return chosen


@dataclass(frozen=True)
class _Chosen:
    root: Path
    rel_path: str
    text: str  # shared with the other positions of the file, not copied
    span: tuple[int, int]  # where the reference starts and ends in `text`
    pos: Position


def make_line_tasks(
    sources: Sequence[Path], *, cross_file: bool = False, per_file: int = DEFAULT_PER_FILE,
    max_tasks: int | None = None, seed: int = 0, progress: bool = True,
) -> tuple[list[LineTask], MakeSummary]:
    """Line tasks from the Python files under each source folder (one workspace each).

    Deterministic for a seed: each file draws from its own random.Random seeded with the seed and
    the file's task-id stem, so adding a file changes no other file's tasks; --max-tasks then keeps
    a seeded sample of the whole set, in file order.
    """
    if per_file < 1:
        raise InputError(f"per_file must be at least 1, not {per_file}")
    if max_tasks is not None and max_tasks < 1:
        raise InputError(f"max_tasks must be at least 1, not {max_tasks}")
    roots = [Path(s).resolve() for s in sources]
    if not roots:
        raise InputError("give at least one --source folder")
    named: dict[str, Path] = {}
    for original, root in zip(sources, roots):
        if not root.is_dir():
            raise InputError(f"--source {original} is not a folder")
        if root.name in named:
            raise InputError(f"--source {named[root.name]} and {root} are both named {root.name!r}; task ids would collide")
        named[root.name] = root

    summary = MakeSummary()
    files = [(root, path) for root in roots for path in _source_files(root)]
    summary.files_seen = len(files)
    if not files:
        raise InputError(f"no Python files under {', '.join(str(s) for s in sources)}")

    # Pass 1 parses every file and keeps only its text and names; pass 2 tokenizes one file at a
    # time, so memory stays near the size of the sources however many positions they offer.
    parsed: dict[Path, list[ParsedFile]] = defaultdict(list)
    locals_of = {root: _local_modules(root) for root in roots}
    for root, path in tqdm(files, desc="reading files", unit="file", disable=not progress):
        text, reason = _read_python(path)
        if text is not None:
            try:
                parsed[root].append(parse_file(path.relative_to(root).as_posix(), text, locals_of[root]))
            except (SyntaxError, ValueError, RecursionError):
                reason = "does not parse"
        if reason:
            summary.skipped[reason] += 1
        else:
            summary.files_read += 1

    chosen: list[_Chosen] = []
    for root in roots:
        defined: dict[str, set[str]] = defaultdict(set)  # name -> files that bind it at module level
        for file in parsed[root] if cross_file else ():
            for name in file.module_names:
                defined[name].add(file.rel_path)
        for file in parsed[root]:
            try:
                scan = scan_parsed(file)
            except (SyntaxError, tokenize.TokenError):
                summary.files_read -= 1
                summary.skipped["does not parse"] += 1
                continue
            positions = [p for p in scan.positions if not cross_file or cross_file_names(scan, p, defined)]
            summary.positions += len(positions)
            rng = random.Random(f"{seed}:{root.name}/{scan.rel_path}")
            chosen.extend(_Chosen(root, scan.rel_path, scan.text, scan.span(pos), pos)
                          for pos in _choose(positions, per_file, rng))
    summary.sampled = len(chosen)
    if max_tasks is not None and len(chosen) > max_tasks:
        chosen = [chosen[i] for i in sorted(random.Random(seed).sample(range(len(chosen)), max_tasks))]
    tasks = [
        LineTask(
            task_id=f"{c.root.name}/{c.rel_path}:{c.pos.row + 1}:{c.pos.col + 1}", prefix=c.text[: c.span[0]],
            suffix=c.text[c.span[1] :], reference=c.text[c.span[0] : c.span[1]], path=c.rel_path, language="python",
            workspace=str(c.root), kind=c.pos.kind,
        )
        for c in chosen
    ]
    summary.tasks = len(tasks)
    summary.kinds = Counter(t.kind for t in tasks if t.kind)
    return tasks, summary


# ---------------------------------------------------------------------------------------------
# Scoring


class Completes(Protocol):
    """What scoring needs of a `Completer`."""

    def complete(self, request: CompletionRequest) -> CompletionResult: ...


def line_request(task: LineTask, max_tokens: int, postprocess: str = "pipeline",
                 candidates: int = DEFAULT_CANDIDATES, workspace_root: str | None = None,
                 context_sources: tuple[str, ...] = ()) -> CompletionRequest:
    """The request for a task: the document without the reference, the cursor where it was cut;
    with `workspace_root`, retrieval from it with `context_sources`."""
    return CompletionRequest(text=task.document, cursor=len(task.prefix), path=task.path,
                             language=task.language, max_tokens=max_tokens,
                             postprocess=postprocess, candidates=candidates,  # type: ignore[arg-type]
                             workspace_root=workspace_root, context_sources=context_sources if workspace_root else ())


def task_workspace(task: LineTask, workspaces: Workspaces | None, default: str | None,
                   context_sources: tuple[str, ...]) -> str | None:
    """The workspace a task retrieves from (its own `workspace`, else `default`), with the task's
    file replaced in that workspace's index by the document the model is given, so the
    reference line is in no snippet; None when retrieval is off for it (no registry, no
    sources, no workspace, or no `path` to tell which file the reference must be taken from)."""
    root = task.workspace or default
    if workspaces is None or not context_sources or root is None or task.path is None:
        return None
    workspaces.get(root).update_document(task.path, task.document)
    return root


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def score_prediction(prediction: str, reference: str) -> dict[str, Any]:
    return {"exact_match": exact_match(prediction, reference), "edit_similarity": edit_similarity(prediction, reference)}


def line_metrics(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Exact match and edit similarity in percent, averaged over tasks."""
    n = len(records)
    if not n:
        return {"exact_match": 0.0, "edit_similarity": 0.0, "tasks": 0}
    return {
        "exact_match": round(100 * sum(bool(r["exact_match"]) for r in records) / n, 2),
        "edit_similarity": round(sum(float(r["edit_similarity"]) for r in records) / n, 2),
        "tasks": n,
    }


def _check_resumed(task: LineTask, record: dict[str, Any], log_path: Path | None) -> None:
    if record.get("reference") != task.reference or "edit_similarity" not in record or "exact_match" not in record:
        raise InputError(f"{log_path} has a record for task {task.task_id!r} that is not this task's line score; "
                         "it was written for another task file or benchmark (use another --out)")


def score_line_tasks(completer: Completes, tasks: Sequence[LineTask], log: SampleLog, *,
                     max_tokens: int = 48, progress: bool = True, postprocess: str = "pipeline",
                     candidates: int = DEFAULT_CANDIDATES, workspaces: Workspaces | None = None,
                     workspace: str | None = None, context_sources: tuple[str, ...] = SOURCES) -> dict[str, Any]:
    """Complete every task not already in `log`, record each, and return the metrics over all
    `tasks`. `postprocess` and `candidates` go into every request (raw, pipeline or ranked).
    With `workspaces` (the completer's registry), a task retrieves from its `workspace` (or
    `workspace`, for tasks that name none) with `context_sources`; see `task_workspace`."""
    for task in tasks:
        if (task.task_id, 0) in log.done:
            _check_resumed(task, log.done[(task.task_id, 0)], log.path)
    todo = [t for t in tasks if (t.task_id, 0) not in log.done]
    for task in tqdm(todo, desc="completing lines", unit="task", disable=not progress):
        root = task_workspace(task, workspaces, workspace, context_sources)
        t0 = time.perf_counter()
        result = completer.complete(line_request(task, max_tokens, postprocess, candidates, root, context_sources))
        ms = (time.perf_counter() - t0) * 1000
        prediction = first_line(result.suggestions[0].text) if result.suggestions else ""
        snippets = result.debug.get("context", {}).get("snippets", [])
        log.write({"task_id": task.task_id, "prediction": prediction, "reference": task.reference,
                   **score_prediction(prediction, task.reference), "ms": round(ms, 1),
                   "snippets": [f"{s['source']} {s['path']}:{s['start_line']}-{s['end_line']}" for s in snippets]})
    return line_metrics([log.done[(t.task_id, 0)] for t in tasks])
