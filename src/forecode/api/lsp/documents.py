"""The open documents, as the editor holds them: opened, changed (incrementally or whole), closed.

Our own copy rather than pygls's workspace: pygls splits lines with `str.splitlines`, which also
breaks at form feeds, vertical tabs, U+2028 and others, so an edit below such a character lands
on the wrong line. Here lines end only at "\\r\\n", "\\r" and "\\n", as the LSP specification
says, and ranges convert with positions.py, the same code that converts request positions.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from lsprotocol import types

from forecode.api.lsp.positions import Unit, to_offset
from forecode.errors import InputError


@dataclass(frozen=True)
class Document:
    uri: str
    text: str
    version: int
    language: str | None

    @property
    def path(self) -> str | None:
        """The file system path of a `file:` URI."""
        from pygls.uris import to_fs_path

        return to_fs_path(self.uri) if self.uri.startswith("file:") else None


class Documents:
    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}
        self._lock = threading.Lock()  # handlers read from worker threads

    def open(self, item: types.TextDocumentItem) -> None:
        with self._lock:
            self._docs[item.uri] = Document(item.uri, item.text, item.version, item.language_id)

    def close(self, uri: str) -> None:
        with self._lock:
            self._docs.pop(uri, None)

    def all(self) -> list[Document]:
        with self._lock:
            return list(self._docs.values())

    def get(self, uri: str) -> Document:
        with self._lock:
            doc = self._docs.get(uri)
        if doc is None:
            raise InputError(f"document {uri} is not open (no textDocument/didOpen for it)")
        return doc

    def change(self, uri: str, version: int, changes: Sequence[types.TextDocumentContentChangeEvent], unit: Unit) -> Document:
        """Apply `changes` in order and return the document as it now is; a change that does not
        fit the document drops it (the editor's next didOpen brings it back) and raises InputError."""
        doc = self.get(uri)
        text = doc.text
        try:
            for change in changes:
                if isinstance(change, types.TextDocumentContentChangePartial):
                    start = to_offset(text, change.range.start.line, change.range.start.character, unit)
                    end = to_offset(text, change.range.end.line, change.range.end.character, unit)
                    if end < start:
                        raise InputError(f"change range ends ({end}) before it starts ({start})")
                    text = text[:start] + change.text + text[end:]
                else:
                    text = change.text
        except InputError as exc:
            self.close(uri)
            raise InputError(f"{uri} version {version}: {exc}; the document is out of sync and closed") from None
        changed = Document(uri, text, version, doc.language)
        with self._lock:
            self._docs[uri] = changed
        return changed
