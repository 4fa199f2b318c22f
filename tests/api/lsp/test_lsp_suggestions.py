"""The spans a suggestion replaces, in code points."""

from __future__ import annotations

from forecode.api.lsp.suggestions import completion_edit, inline_edit, is_python, replaced_end


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
