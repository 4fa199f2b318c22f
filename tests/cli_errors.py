"""The check every CLI test of bad input makes: exit code 2, one `error:` line, no traceback."""

from __future__ import annotations

import pytest

from forecode.cli import main


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.out == "" and "Traceback" not in out.err
    assert out.err.startswith("error: ") and out.err.count("\n") == 1, out.err
    return out.err
