"""Line completion on real code: where tasks are cut, what the model is shown, and how it is scored."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cli_errors import one_line_error as _error

from forecode.cli import main
from forecode.completer import CompletionRequest, CompletionResult, Suggestion
from forecode.documents import offset_of
from forecode.errors import InputError
from forecode.eval.lines import (
    LineTask,
    line_metrics,
    line_request,
    make_line_tasks,
    read_tasks,
    scan_file,
    score_line_tasks,
    write_tasks,
)
from forecode.eval.metrics import edit_similarity, exact_match
from forecode.eval.report import SampleLog

SOURCE = '''\
"""A module docstring that must never become a task."""

import os

# a comment line, never a task
LIMIT = 10


def total(values, start=0):
    """Sum of values."""
    result = start
    for v in values:
        result += v * LIMIT
    names = ["alpha",
             "beta", "gamma"]
    text = """one
    two"""
    a = 1; b = os.path.join("x", "y")
    名前 = "値🙂"; count = len(名前) + 1
    return result  # the answer
'''
# 1-based lines that must give no task: docstrings, comments, blank lines, a continuation line,
# a line ending inside a string, and the string's last line.
NEVER = {1, 2, 4, 5, 7, 8, 10, 15, 16, 17}


class RecordingCompleter:
    """Answers every request with a fixed text and keeps the requests it saw."""

    def __init__(self, answer: str = "result\nmore") -> None:
        self.answer = answer
        self.requests: list[CompletionRequest] = []

    def complete(self, request: CompletionRequest) -> CompletionResult:
        self.requests.append(request)
        return CompletionResult([Suggestion(self.answer, -1.0, [], "stop")])


def _folder(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _tasks(folder: Path, **kw: Any) -> list[LineTask]:
    kw.setdefault("per_file", 1000)
    return make_line_tasks([folder], progress=False, **kw)[0]


def test_positions_start_statements_or_sit_inside_lines_and_cut_back_to_the_file() -> None:
    scan = scan_file("mod.py", SOURCE)
    assert {p.kind for p in scan.positions} == {"statement", "inside"}
    refs: dict[tuple[int, int], str] = {}
    for pos in scan.positions:
        prefix, reference, suffix = scan.cut(pos)
        assert prefix + reference + suffix == SOURCE
        assert suffix.startswith("\n") and "\n" not in reference and reference == reference.rstrip()
        assert len("".join(reference.split("#")[0].split())) >= 3
        assert pos.row + 1 not in NEVER
        assert offset_of(SOURCE, pos.row + 1, pos.col + 1) == len(prefix)  # LINE:COL as `forecode complete` takes it
        before = prefix[prefix.rfind("\n") + 1 :]
        if pos.kind == "statement":
            assert before.strip() == "" and not reference[0].isspace()
        else:
            assert before.strip() and not re.fullmatch(r"\w\w", before[-1] + reference[0])  # never splits a name
        refs[pos.row + 1, pos.col + 1] = reference
    assert refs[11, 5] == "result = start"
    assert refs[14, 13] == '["alpha",'  # a multi-line statement's first line
    assert refs[19, 16] == "count = len(名前) + 1"  # columns count code points: CJK and an emoji before it
    assert refs[20, 12] == "result  # the answer"
    assert refs[3, 1] == "import os" and (3, 8) not in refs  # "os" alone is too short


def test_tasks_take_one_position_per_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "proj", {"mod.py": SOURCE})
    tasks = _tasks(folder)
    lines = [int(t.task_id.rsplit(":", 2)[1]) for t in tasks]
    assert len(lines) == len(set(lines)) == len({p.row for p in scan_file("mod.py", SOURCE).positions})
    for t in tasks:
        assert t.prefix + t.reference + t.suffix == SOURCE
        assert t.task_id.startswith("proj/mod.py:") and t.path == "mod.py" and t.workspace == str(folder.resolve())
    assert len(_tasks(folder, per_file=2)) == 2


def test_the_model_is_never_shown_the_reference(tmp_path: Path) -> None:
    lines = "".join(f"v{i} = compute_{i}(arg_{i}) + {i}\n" for i in range(30))
    folder = _folder(tmp_path / "proj", {"unique.py": lines})
    tasks = _tasks(folder, per_file=30)
    stub = RecordingCompleter()
    score_line_tasks(stub, tasks, SampleLog(None), progress=False)
    assert len(stub.requests) == len(tasks) == 30
    for task, request in zip(tasks, stub.requests):
        assert request == line_request(task, 48)
        assert request.text == task.prefix + task.suffix and request.cursor == len(task.prefix)
        assert task.reference not in request.text
        assert request.text[request.cursor :].split("\n", 1)[0] == ""  # the line's remainder is gone


def test_same_seed_same_tasks_and_other_files_do_not_shift_them(tmp_path: Path) -> None:
    files = {f"m{i}.py": "".join(f"x{j} = f(a{j}, b={j})\n" for j in range(40)) for i in range(4)}
    folder = _folder(tmp_path / "proj", files)
    first = _tasks(folder, per_file=3, seed=7)
    assert first == _tasks(folder, per_file=3, seed=7)
    assert first != _tasks(folder, per_file=3, seed=8)
    (folder / "m9.py").write_text("y = g(1, 2)\n")
    assert [t for t in _tasks(folder, per_file=3, seed=7) if t.path != "m9.py"] == first
    capped = _tasks(folder, per_file=3, seed=7, max_tasks=5)
    assert len(capped) == 5 and all(t in first for t in capped) and capped == _tasks(folder, per_file=3, seed=7, max_tasks=5)


def test_cross_file_keeps_names_only_a_sibling_defines(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "pkg", {
        "__init__.py": "",
        "helpers.py": "def frobnicate(x):\n    return x * 2\n\n\nSHARED = 3\n",
        "main.py": (
            "from pkg import helpers\n"
            "\n"
            "\n"
            "def local_thing(x):\n"
            "    return x + 1\n"
            "\n"
            "\n"
            "value = helpers.frobnicate(3)\n"
            "total = local_thing(2)\n"
            "SHARED = 4\n"
            "other = SHARED + 1\n"
        ),
    })
    def lines(tasks: list[LineTask]) -> set[int]:
        return {int(t.task_id.rsplit(":", 2)[1]) for t in tasks if t.path == "main.py"}

    assert lines(_tasks(folder, cross_file=True)) == {8}  # frobnicate; local_thing and SHARED are defined here
    assert lines(_tasks(folder)) >= {1, 4, 5, 8, 9, 10, 11}


def test_cross_file_drops_a_name_the_file_mentions_elsewhere(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "pkg", {
        "helpers.py": "def frobnicate(x):\n    return x\n",
        "a.py": "import helpers\n\nvalue = helpers.frobnicate(3)\n",
        "b.py": "import helpers\n\n# frobnicate doubles\nvalue = helpers.frobnicate(3)\n",
    })
    paths = {t.path for t in _tasks(folder, cross_file=True)}
    assert "a.py" in paths and "b.py" not in paths


def test_metrics_are_codexglue_line_scores() -> None:
    assert exact_match("x  =  f(1)", "x = f(1)") and not exact_match("x = f(2)", "x = f(1)")
    assert edit_similarity("x = f(1)", "x = f(1)  ") == 100.0
    assert 0 < edit_similarity("x = f(2)", "x = f(1)") < 100 and edit_similarity("", "abc") == 0
    records = [{"exact_match": True, "edit_similarity": 100.0}, {"exact_match": False, "edit_similarity": 50.0}]
    assert line_metrics(records) == {"exact_match": 50.0, "edit_similarity": 75.0, "tasks": 2}


def test_only_the_first_line_of_a_suggestion_is_scored(tmp_path: Path) -> None:
    task = LineTask("t1", prefix="def f():\n    ", suffix="\n", reference="return result")
    log = SampleLog(None)
    metrics = score_line_tasks(RecordingCompleter("return result\n    x = 1"), [task], log, progress=False)
    assert metrics == {"exact_match": 100.0, "edit_similarity": 100.0, "tasks": 1}
    assert log.done[("t1", 0)]["prediction"] == "return result"


def test_resume_scores_only_what_is_missing(tmp_path: Path) -> None:
    tasks = [LineTask(f"t{i}", prefix=f"x{i} = ", suffix="\n", reference="result") for i in range(3)]
    out = tmp_path / "samples.jsonl"
    with SampleLog(out) as log:
        score_line_tasks(RecordingCompleter(), tasks[:2], log, progress=False)
    again = RecordingCompleter("wrong")
    with SampleLog(out) as log:
        metrics = score_line_tasks(again, tasks, log, progress=False)
    assert [r.text for r in again.requests] == ["x2 = \n"]
    assert metrics["tasks"] == 3 and metrics["exact_match"] == pytest.approx(200 / 3, abs=0.01)
    assert [json.loads(ln)["task_id"] for ln in out.read_text().splitlines()] == ["t0", "t1", "t2"]
    changed = [LineTask("t0", prefix="x0 = ", suffix="\n", reference="other")]
    with SampleLog(out) as log, pytest.raises(InputError, match="'t0'.*another task file"):
        score_line_tasks(RecordingCompleter(), changed, log, progress=False)


def test_lines_end_to_end_with_the_shipped_model(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the workspace index's cache
    folder = _folder(tmp_path / "proj", {"mod.py": SOURCE})
    tasks_file = tmp_path / "tasks.jsonl"
    assert main(["eval", "make-lines", "--source", str(folder), "--out", str(tasks_file), "--per-file", "3", "--quiet"]) == 0
    summary = capsys.readouterr().out
    assert "files: 1 read, 0 skipped" in summary and "tasks: 3 written" in summary
    out = tmp_path / "samples.jsonl"
    args = ["eval", "lines", "--tasks", str(tasks_file), "--max-tokens", "12", "--json", "--out", str(out), "--quiet"]
    assert main(args) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert metrics["tasks"] == 3
    assert 0 <= metrics["exact_match"] <= 100 and 0 <= metrics["edit_similarity"] <= 100
    samples = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert {s["task_id"] for s in samples} == {t.task_id for t in read_tasks(tasks_file)}
    assert all(set(s) >= {"prediction", "reference", "exact_match", "edit_similarity", "ms"} for s in samples)


def test_make_lines_counts_files_it_cannot_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path / "proj", {"good.py": "value = compute(1)\n", "broken.py": "def (:\n"})
    (folder / "latin.py").write_bytes("x = 'é'\n".encode("latin-1"))
    (folder / "blob.py").write_bytes(b"\x00\x01\x02")
    (folder / "huge.py").write_text("x = 1\n" * 200_000)
    assert main(["eval", "make-lines", "--source", str(folder), "--out", str(tmp_path / "t.jsonl"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "files: 1 read, 4 skipped" in out
    assert all(reason in out for reason in ("1 does not parse", "1 not UTF-8", "1 binary", "1 larger than 1024 KiB"))



GOOD = {"task_id": "a", "prefix": "x = ", "suffix": "\n", "reference": "1 + 2", "path": "m.py", "language": "python"}


@pytest.mark.parametrize(("second_line", "message"), [
    ("{not json", ":2: not JSON"),
    (json.dumps({"task_id": "b", "prefix": "", "suffix": ""}), ":2: missing field 'reference'"),
    (json.dumps({**GOOD, "task_id": "b", "prefix": 3}), ":2: field 'prefix' must be a string, not int"),
    (json.dumps({**GOOD, "task_id": "b", "path": ["m.py"]}), ":2: field 'path' must be a string or null, not list"),
    (json.dumps({**GOOD, "task_id": "b", "reference": "a\nb"}), ":2: field 'reference' spans lines"),
    (json.dumps(["a", "b"]), ":2: a task is a JSON object, not list"),
    (json.dumps(GOOD), ":2: task_id 'a' is also on line 1"),
])
def test_bad_task_file(second_line: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + second_line + "\n")
    err = _error(["eval", "lines", "--tasks", str(path)], capsys)
    assert f"tasks.jsonl{message}" in err


def test_empty_task_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n\n")
    assert "tasks.jsonl: has no tasks" in _error(["eval", "lines", "--tasks", str(path)], capsys)


def test_make_lines_without_python_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["eval", "make-lines", "--source", str(tmp_path), "--out", str(tmp_path / "t.jsonl")], capsys)
    assert f"no Python files under {tmp_path}" in err


def test_written_tasks_read_back(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "proj", {"mod.py": SOURCE})
    tasks = _tasks(folder)
    write_tasks(tasks, tmp_path / "t.jsonl")
    assert read_tasks(tmp_path / "t.jsonl") == tasks


@pytest.mark.parametrize(("postprocess", "candidates"), [("raw", 4), ("ranked", 3)])
def test_the_postprocess_setting_reaches_every_request(tmp_path: Path, postprocess: str, candidates: int) -> None:
    folder = _folder(tmp_path / "proj", {"mod.py": SOURCE})
    tasks = _tasks(folder)[:2]
    stub = RecordingCompleter()
    score_line_tasks(stub, tasks, SampleLog(None), progress=False, postprocess=postprocess, candidates=candidates)
    assert [(r.postprocess, r.candidates) for r in stub.requests] == [(postprocess, candidates)] * len(tasks)


# ---------------------------------------------------------------------------------------------
# Retrieval from the task's workspace

LEAKY = {
    "__init__.py": "",
    "units.py": "def convert_celsius(value):\n    return value * 9 / 5 + 32\n\n\nFREEZING = 0\n",
    "report.py": (
        "from pkg.units import convert_celsius\n\n\n"
        "def describe(reading):\n"
        "    warm = convert_celsius(reading)\n"
        "    marker = zqxjk_unique_marker(warm)\n"
        "    return f'{warm} {marker}'\n"
    ),
}


class DebugKeeper:
    """A real Completer that keeps each debug window."""

    def __init__(self, completer: Any) -> None:
        self.completer = completer
        self.debugs: list[dict[str, Any]] = []

    def complete(self, request: CompletionRequest) -> CompletionResult:
        result = self.completer.complete(request)
        self.debugs.append(result.debug)
        return result


@pytest.fixture
def tiny_completer(tiny_tokenizer: Any) -> Any:
    from dataclasses import replace

    import torch

    from forecode.completer import Completer
    from forecode.engine.builtin import BuiltinEngine
    from forecode.model.config import PRESETS
    from forecode.model.llama import Llama

    torch.manual_seed(0)
    model = Llama(replace(PRESETS["test"], vocab_size=tiny_tokenizer.vocab_size, block_size=512)).eval()
    return lambda workspaces: Completer(BuiltinEngine(model, tiny_tokenizer), workspaces)


def test_the_reference_never_reaches_the_prompt_through_retrieval(tmp_path: Path, tiny_completer: Any) -> None:
    from forecode.context.workspaces import Workspaces

    folder = _folder(tmp_path / "pkg", LEAKY)
    # every line of report.py that holds the marker, at every cursor make-lines offers there
    tasks = [t for t in _tasks(folder) if "zqxjk_unique_marker" in t.reference and t.path == "report.py"]
    assert tasks
    with Workspaces(tmp_path / "cache") as workspaces:
        index = workspaces.get(folder)
        assert any("zqxjk_unique_marker" in c.text for c in index.chunks("report.py"))  # on disk it is there
        keeper = DebugKeeper(tiny_completer(workspaces))
        score_line_tasks(keeper, tasks, SampleLog(None), progress=False, max_tokens=4, workspaces=workspaces)
        assert len(keeper.debugs) == len(tasks)
        for debug in keeper.debugs:
            ctx = debug["context"]
            assert ctx["retrieval"] == "on" and ctx["snippets"]  # units.py's definition, at least
            assert "zqxjk_unique_marker" not in debug["prompt"]
            for s in ctx["snippets"] + ctx["dropped"]:
                lines = [c.text for c in index.chunks(s["path"]) if c.start_line <= s["end_line"] and s["start_line"] <= c.end_line]
                assert not any("zqxjk_unique_marker" in text for text in lines)
        assert all("zqxjk_unique_marker" not in c.text for p in index.paths for c in index.chunks(p))
        assert any(s["path"] == "units.py" for d in keeper.debugs for s in d["context"]["snippets"])


def test_workspace_option_and_sources_reach_every_request(tmp_path: Path) -> None:
    from forecode.context.workspaces import Workspaces

    folder = _folder(tmp_path / "pkg", LEAKY)
    tasks = [replace_workspace(t, None) for t in _tasks(folder)[:3]]
    stub = RecordingCompleter()
    with Workspaces(tmp_path / "cache") as workspaces:
        score_line_tasks(stub, tasks, SampleLog(None), progress=False, workspaces=workspaces,
                         workspace=str(folder), context_sources=("bm25",))
        score_line_tasks(stub, tasks, SampleLog(None), progress=False, workspaces=workspaces,
                         workspace=str(folder), context_sources=())
    assert [(r.workspace_root, r.context_sources) for r in stub.requests] == [(str(folder), ("bm25",))] * 3 + [(None, ())] * 3


def replace_workspace(task: LineTask, workspace: str | None) -> LineTask:
    from dataclasses import replace

    return replace(task, workspace=workspace)


def test_eval_lines_context_sources_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path / "pkg", {"__init__.py": "", "helpers.py": "def frobnicate(x):\n    return x * 2\n",
                                        "main.py": "from pkg import helpers\n\n\nvalue = helpers.frobnicate(3)\n"})
    tasks_file = tmp_path / "tasks.jsonl"
    write_tasks(_tasks(folder, cross_file=True), tasks_file)
    assert all(t.workspace == str(folder.resolve()) for t in read_tasks(tasks_file))  # --cross-file tasks name it
    assert main(["eval", "lines", "--tasks", str(tasks_file), "--context-sources", "bm25,vector", "--quiet"]) == 2
    assert "expected `none` or some of definition,bm25,recent" in capsys.readouterr().err
