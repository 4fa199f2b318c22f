"""`forecode index build | query`: a summary, snippets with why, and exit 2 on a bad root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from context.workspace import PACKAGE, write

from forecode.cli import main


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write(tmp_path / "ws", PACKAGE)


def test_build_prints_a_summary_and_json(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    assert main(["index", "build", str(root), "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "4 files" in out and "chunks" in out and "symbols" in out and str(cache) in out
    assert main(["index", "build", str(root), "--cache", str(cache), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["files"] == 4 and summary["cached"] == 4 and summary["parsed"] == 0
    assert summary["chunks"] > 0 and summary["symbols"] > 0 and summary["cache_bytes"] > 0
    assert (cache / "index.sqlite").is_file()


def test_query_prints_snippets_and_why(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["index", "query", str(root), "--file", "app.py", "--line", "6", "--cache", str(tmp_path / "cache")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "== billing/parser.py:14-" in out and "[definition]" in out and "class InvoiceReader" in out
    assert main([*args, "--json", "--source", "bm25"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and {r["source"] for r in rows} == {"bm25"} and all(r["path"] != "app.py" for r in rows)


@pytest.mark.parametrize("command", ["build", "query"])
def test_a_missing_root_is_a_clear_error_and_exit_2(tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ["--file", "x.py", "--line", "1"] if command == "query" else []
    assert main(["index", command, str(tmp_path / "missing"), "--cache", str(tmp_path / "c"), *extra]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "missing" in err and "Traceback" not in err


def test_query_past_the_end_of_the_file_is_exit_2(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["index", "query", str(root), "--file", "app.py", "--line", "99", "--cache", str(tmp_path / "cache")]
    assert main(args) == 2
    assert "line 99 is past the end of app.py" in capsys.readouterr().err
