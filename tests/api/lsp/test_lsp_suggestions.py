"""The spans a suggestion replaces, in code points, and what the editor is told about its
security findings and ranking score."""

from __future__ import annotations

from forecode.api.lsp.suggestions import (
    completion_edit, inline_edit, is_python, line_detail, replaced_end, security_note,
)
from forecode.completer import Suggestion
from forecode.postprocess.candidate import Context
from forecode.postprocess.pipeline import run_pipeline


def test_a_suggestion_is_inserted_at_the_cursor() -> None:
    text = "x = compute(\ny = 2\n"
    cursor = text.index("\n")
    edit = inline_edit(text, cursor, "a, b)")
    assert (edit.start, edit.end, edit.text) == (cursor, cursor, "a, b)")


def test_a_suggestion_that_ends_with_the_rest_of_the_line_replaces_it() -> None:
    text = "print(va)  \r\nnext\n"
    cursor = text.index("va") + 2
    edit = inline_edit(text, cursor, "lue)")
    assert (edit.start, edit.end) == (cursor, text.index("\r\n"))  # the editor's `)` is not doubled
    assert text[: edit.start] + edit.text + text[edit.end :] == "print(value)\r\nnext\n"
    assert replaced_end(text, cursor, "lue") == cursor  # no overlap: nothing replaced


def test_a_completion_item_starts_at_the_word_being_typed() -> None:
    text = "    message = na"
    edit = completion_edit(text, len(text), "me + greeting")
    assert (edit.start, edit.end, edit.text) == (text.index("na"), len(text), "name + greeting")
    edit = completion_edit("x = ", 4, "1")
    assert (edit.start, edit.end, edit.text) == (4, 4, "1")


def test_python_by_language_or_suffix() -> None:
    assert is_python("python", None) and is_python(None, "/a/b.pyi") and is_python("plaintext", "x.py")
    assert not is_python("markdown", "README.md") and not is_python(None, None)


def pipelined(prefix: str, text: str, score: float | None = None) -> Suggestion:
    """The suggestion the completer would return for `text` at the end of `prefix`: the real
    pipeline's output and findings."""
    c = run_pipeline(text, Context(prefix, "\n"))
    return Suggestion(c.text, -1.0, [], "end_of_text", c.findings, score)


def test_the_line_item_names_the_security_rules_and_documents_each_finding() -> None:
    s = pipelined("import subprocess, yaml\ndef run(cmd, path):\n    ",
                  "subprocess.run(cmd, shell=True)\n    return yaml.load(open(path))")
    assert line_detail(s) == "forecode: line [security: shell-injection, yaml-load]"
    assert security_note(s).split("\n") == [
        "security: shell-injection (line 1): subprocess.run(..., shell=True) with a command that is not a literal",
        "security: yaml-load (line 2): yaml.load without a safe loader; use yaml.safe_load"]


def test_a_clean_suggestion_has_no_note_and_a_ranked_one_shows_its_score() -> None:
    s = pipelined("def add(a, b):\n    return ", "a + b", score=-0.4567)
    assert s.findings == () and security_note(s) == ""
    assert line_detail(s) == "forecode: line (score -0.46)"
