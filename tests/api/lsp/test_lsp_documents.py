"""The server's copy of each open document: edits in LSP ranges, lines as LSP counts them."""

from __future__ import annotations

import pytest
from lsprotocol import types

from forecode.api.lsp.documents import Documents
from forecode.errors import InputError

URI = "file:///tmp/a.py"


def edit(l0: int, c0: int, l1: int, c1: int, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(range=types.Range(types.Position(l0, c0), types.Position(l1, c1)), text=text)


def test_edits_apply_in_order_and_form_feeds_break_no_line() -> None:
    docs = Documents()
    docs.open(types.TextDocumentItem(uri=URI, language_id="python", version=1, text="a = 1\x0c\nb = 2\n"))
    docs.change(URI, 2, [edit(1, 0, 1, 1, "c"), edit(0, 0, 0, 0, "# 😀\n")], "utf-16")
    doc = docs.get(URI)
    assert (doc.text, doc.version, doc.language, doc.path) == ("# 😀\na = 1\x0c\nc = 2\n", 2, "python", "/tmp/a.py")
    docs.change(URI, 3, [types.TextDocumentContentChangeWholeDocument(text="new")], "utf-16")
    assert docs.get(URI).text == "new"


def test_a_change_that_does_not_fit_closes_the_document() -> None:
    docs = Documents()
    docs.open(types.TextDocumentItem(uri=URI, language_id="python", version=1, text="x\n"))
    with pytest.raises(InputError, match="version 2: line 7 is past the end of the document.*out of sync and closed"):
        docs.change(URI, 2, [edit(7, 0, 7, 0, "y")], "utf-16")
    with pytest.raises(InputError, match="is not open"):
        docs.get(URI)
