"""The editor configurations in editors/ (docs/EDITORS.md shows them): each parses, starts
`forecode lsp`, and sends settings the server accepts."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from lsp_fixtures import FORECODE, run_nvim_script

from forecode.api.lsp.settings import Settings, apply_changes

ROOT = Path(__file__).resolve().parents[3]
EDITORS = ROOT / "editors"


def accepted(options: Any) -> Settings:
    """The settings an editor sends, as the server would take them (InputError if it would not)."""
    return apply_changes(Settings(), options)


def test_the_docs_show_every_configuration() -> None:
    doc = (ROOT / "docs" / "EDITORS.md").read_text()
    for path in sorted(p for p in EDITORS.rglob("*") if p.is_file()):
        assert path.relative_to(ROOT).as_posix() in doc, path
        assert path.read_text().rstrip("\n") in doc, f"docs/EDITORS.md shows an old {path.name}"


def test_vscode_settings_are_json_for_the_generic_lsp_client() -> None:
    settings = json.loads((EDITORS / "vscode" / "settings.json").read_text())
    assert settings["glspc.server.command"] == "forecode"
    assert settings["glspc.server.commandArguments"] == ["lsp"]
    assert "python" in settings["glspc.server.languageId"]
    options = accepted(settings["glspc.server.initializationOptions"])
    assert not options.enabled_for("markdown") and (options.postprocess, options.security) == ("pipeline", "report")


def test_helix_languages_are_toml() -> None:
    config = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    server = config["language-server"]["forecode"]
    assert (server["command"], server["args"]) == ("forecode", ["lsp"])
    assert accepted(server["config"]).max_tokens == 48
    [python] = [lang for lang in config["language"] if lang["name"] == "python"]
    assert {"name": "forecode", "only-features": ["completion"]} in python["language-servers"]


def sexp_balanced(source: str) -> bool:
    """Parentheses and brackets balance outside strings, comments and character literals."""
    depth: list[str] = []
    i = 0
    pairs = {")": "(", "]": "["}
    while i < len(source):
        c = source[i]
        if c == ";":
            i = source.find("\n", i) if "\n" in source[i:] else len(source)
            continue
        if c == '"':
            i += 1
            while i < len(source) and source[i] != '"':
                i += 2 if source[i] == "\\" else 1
            if i >= len(source):
                return False  # an unterminated string
        elif c == "?":  # ?x or ?\x: a character, never a paren
            i += 2 if source[i + 1 : i + 2] == "\\" else 1
        elif c in "([":
            depth.append(c)
        elif c in ")]":
            if not depth or depth.pop() != pairs[c]:
                return False
        i += 1
    return not depth


def test_the_balance_check_catches_what_it_should() -> None:
    assert sexp_balanced('(a "(" ?\\( ; )\n (b))')
    assert not sexp_balanced("(a (b)")
    assert not sexp_balanced('(a ")')
    assert not sexp_balanced("(a ]")


def test_emacs_eglot_is_balanced_elisp_that_registers_forecode() -> None:
    path = EDITORS / "emacs" / "forecode-eglot.el"
    source = path.read_text()
    assert sexp_balanced(source)
    assert '("forecode" "lsp"' in source and "eglot-server-programs" in source
    assert source.rstrip().endswith(";;; forecode-eglot.el ends here")
    emacs = shutil.which("emacs")
    if emacs is not None:  # read every form (without evaluating it): the reader's verdict
        run = subprocess.run([emacs, "--batch", "--eval",
                              f'(with-temp-buffer (insert-file-contents "{path}") (condition-case nil (while t (read (current-buffer))) (end-of-file nil)))'],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr


def test_neovim_config_loads_and_starts_forecode_for_python(memorised_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    run = run_nvim_script("nvim_config_check.lua", tmp_path, str(EDITORS / "nvim" / "forecode.lua"), str(tmp_path / "greet.py"),
                          str(out), FORECODE, str(memorised_checkpoint))
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert report["cmd"] == ["forecode", "lsp"] and "python" in report["filetypes"]
    options = accepted(report["init_options"])
    assert options.debounce_ms == 75 and (options.postprocess, options.security) == ("pipeline", "report")
    assert report["filetype"] == "python"
    assert report["attached"] is True  # vim.lsp.enable started forecode for the Python buffer
