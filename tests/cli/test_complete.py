"""`forecode complete`: output for a memorised checkpoint, and one clear line for each bad input."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_errors import one_line_error as _error
from engine.tiny_models import CURSORS, LINE_START, document_at, memorised_model

from forecode.cli import main
from forecode.model.checkpoint import save_checkpoint
from forecode.tokenizer import CodeTokenizer

CURSOR = CURSORS[1]
LINE, COL = 2, CURSOR - LINE_START + 1  # 1-based, where the memorised model was taught


@pytest.fixture(scope="module")
def checkpoint(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("memorised") / "ckpt"
    return save_checkpoint(folder, memorised_model(tiny_tokenizer_path), tiny_tokenizer, {})


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "greet.py"
    path.write_text(document_at(CURSOR)[0])
    return path


def test_complete_prints_the_memorised_rest_of_the_line(checkpoint: Path, source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complete", f"{source}:{LINE}:{COL}", "--model", str(checkpoint)]) == 0
    out = capsys.readouterr()
    assert out.out == document_at(CURSOR)[1] + "\n"
    assert out.err == ""


def test_complete_from_stdin(checkpoint: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    doc, rest = document_at(CURSOR)
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(doc.encode())))
    assert main(["complete", "--stdin", "--line", str(LINE), "--col", str(COL), "--model", str(checkpoint)]) == 0
    assert capsys.readouterr().out == rest + "\n"


def test_complete_json(checkpoint: Path, source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complete", f"{source}:{LINE}:{COL}", "--model", str(checkpoint), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    payload = json.loads(out)
    [suggestion] = payload["suggestions"]
    assert suggestion["text"] == document_at(CURSOR)[1]
    assert suggestion["tokens"] and all(isinstance(t["logprob"], float) and t["logprob"] <= 0 for t in suggestion["tokens"])
    assert suggestion["finish_reason"] == "end_of_text"
    assert payload["debug"]["timings"]["total_ms"] > 0
    assert payload["debug"]["scope"] == "line"


def test_complete_n_samples(checkpoint: Path, source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["complete", f"{source}:{LINE}:{COL}", "--model", str(checkpoint), "--json", "-n", "3", "--temperature", "2", "--seed", "5"]
    assert main(args) == 0
    assert len(json.loads(capsys.readouterr().out)["suggestions"]) == 3



def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["complete", f"{tmp_path}/nope.py:1:1"], capsys)
    assert "nope.py does not exist" in err


def test_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "is not a file" in _error(["complete", f"{tmp_path}:1:1"], capsys)


def test_line_out_of_range(source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["complete", f"{source}:40:1"], capsys)
    assert "line 40 is outside the file (1..4)" in err


def test_column_out_of_range(source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "column 99 is outside line 1" in _error(["complete", f"{source}:1:99"], capsys)


def test_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.out"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    assert "looks binary" in _error(["complete", f"{path}:1:1"], capsys)


def test_invalid_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes("x = 'é'\n".encode("latin-1"))
    assert "not valid UTF-8 (byte 0xe9 at offset 5)" in _error(["complete", f"{path}:1:1"], capsys)


@pytest.mark.parametrize("spec", ["greet.py", "greet.py:2", "greet.py:two:1"])
def test_bad_position_syntax(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert "is not FILE:LINE:COL" in _error(["complete", spec], capsys)


def test_stdin_without_line_and_col(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--stdin takes --line and --col" in _error(["complete", "--stdin", "--line", "1"], capsys)


def test_no_position(capsys: pytest.CaptureFixture[str]) -> None:
    assert "give FILE:LINE:COL" in _error(["complete"], capsys)


def test_missing_model_folder(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["complete", f"{source}:{LINE}:{COL}", "--model", str(tmp_path / "no-model")], capsys)
    assert "no-model does not exist" in err
