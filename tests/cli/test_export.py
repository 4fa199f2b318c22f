"""`forecode export`: a summary line for each format, and one clear line for each bad input."""

from __future__ import annotations

import re
from pathlib import Path

import gguf
import pytest
from cli_errors import one_line_error as _error

from forecode.cli import main


def test_gguf_export_of_the_embedded_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.gguf"
    assert main(["export", "--format", "gguf", "--out", str(out), "--dtype", "q8_0"]) == 0
    stdout = capsys.readouterr().out
    assert re.match(rf"Wrote {re.escape(str(out))} \(6\.\d MB\) from .*forecode-tiny in ", stdout)
    assert "38 tensors (4 f16, 9 f32, 25 q8_0)" in stdout
    reader = gguf.GGUFReader(out)
    assert reader.fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_Q8_0


def test_hf_export_and_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hf"
    assert main(["export", "--format", "hf", "--out", str(out)]) == 0
    assert "38 tensors; config.json, forecode.json, generation_config.json" in capsys.readouterr().out
    (out / "stale.txt").write_text("from an older export")
    assert main(["export", "--format", "hf", "--out", str(out), "--force"]) == 0
    assert not (out / "stale.txt").exists()
    assert (out / "tokenizer_config.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "onnx"], "unknown format 'onnx'; expected one of gguf, hf"),
        (["--format", "gguf", "--dtype", "q4_k"], "unknown dtype 'q4_k'; expected one of f32, f16, q8_0"),
        (["--format", "hf", "--dtype", "f16"], "--dtype f16 applies to --format gguf only"),
    ],
    ids=["format", "dtype", "dtype-with-hf"],
)
def test_bad_options(args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert message in _error(["export", *args, "--out", str(out)], capsys)
    assert not out.exists()


def test_missing_model_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-model"
    err = _error(["export", "--format", "gguf", "--model", str(missing), "--out", str(tmp_path / "x.gguf")], capsys)
    assert f"model folder {missing} does not exist" in err


def test_incomplete_model_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    err = _error(["export", "--format", "hf", "--model", str(folder), "--out", str(tmp_path / "hf")], capsys)
    assert "lacks model.safetensors" in err


@pytest.mark.parametrize("fmt", ["gguf", "hf"])
def test_existing_output_needs_force(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "taken"
    out.write_text("someone's file")
    err = _error(["export", "--format", fmt, "--out", str(out)], capsys)
    assert f"{out} already exists; pass --force to replace it" in err
    assert out.read_text() == "someone's file"
