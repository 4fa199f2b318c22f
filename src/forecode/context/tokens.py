"""Tokens for code search: identifiers whole and split into their words, lower-cased.

`parse_http_response` gives `parse_http_response parse http response`; `HTTPResponse` gives
`httpresponse http response`. Keywords, one-letter names and the ubiquitous `self` / `cls`
are left out: they are in nearly every chunk, so they only cost time at query.
"""

from __future__ import annotations

import keyword
import re

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words inside an identifier: `HTTPResponse2x` -> HTTP, Response, 2, x
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SKIPPED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"self", "cls", "true", "false", "none"}


def identifier_words(identifier: str) -> list[str]:
    """The words of one identifier, lower-cased: snake_case and camelCase split."""
    return [w.lower() for w in _WORD.findall(identifier)]


_MEMO_LIMIT = 200_000
_memo: dict[str, tuple[str, ...]] = {}  # identifier -> its tokens; names repeat a lot across files


def _identifier_tokens(identifier: str) -> tuple[str, ...]:
    if len(identifier) < 2 or identifier in _SKIPPED:
        return ()
    whole = identifier.lower()
    words = identifier_words(identifier)
    if len(words) > 1:
        return (whole, *(w for w in words if len(w) > 1 and w != whole))
    return (whole,)


def code_tokens(text: str) -> list[str]:
    """Search tokens of `text`, in order, repeats kept (BM25 counts them)."""
    out: list[str] = []
    memo = _memo
    for identifier in _IDENTIFIER.findall(text):
        found = memo.get(identifier)
        if found is None:
            found = _identifier_tokens(identifier)
            if len(memo) < _MEMO_LIMIT:
                memo[identifier] = found
        out.extend(found)
    return out


def identifiers(text: str) -> list[str]:
    """The identifiers in `text`, in order of appearance (repeats kept)."""
    return [m for m in _IDENTIFIER.findall(text) if m not in _SKIPPED]
