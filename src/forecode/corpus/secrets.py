"""Secret redaction: credentials in source text are replaced by `<REDACTED_KIND>` placeholders.

A pure function so the corpus build and the post-processing of suggestions share one list of
patterns. Redaction happens before hashing, deduplication and writing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

Replacement = Callable[["re.Match[str]"], str]

_PLACEHOLDER_VALUES = frozenset(
    {"changeme", "change_me", "password", "passwd", "secret", "token", "xxx", "xxxx", "xxxxxx",
     "your_password", "your-password", "yourpassword", "example", "test", "dummy", "placeholder",
     "none", "null", "todo", "fixme", "api_key", "apikey", "your_api_key", "<password>", "***", "******"}
)


def _placeholder(kind: str) -> str:
    return f"<REDACTED_{kind}>"


def _whole(kind: str) -> Replacement:
    return lambda m: _placeholder(kind)


def _group(kind: str, name: str = "secret") -> Replacement:
    """Replace only the named group, keeping the rest of the match (the variable name, quotes)."""

    def replace(m: re.Match[str]) -> str:
        start, end = m.span(name)
        offset = m.start()
        whole = m.group(0)
        return whole[: start - offset] + _placeholder(kind) + whole[end - offset :]

    return replace


_CREDENTIAL_NAME = re.compile(r"""(?i)(?:password|passwd|pwd|secret|api_?key|access_?key|token)["']?[ \t]*$""")


def _generic(m: re.Match[str]) -> str:
    value = m.group("secret")
    before = m.string[max(0, m.start() - 60) : m.start()]
    if _CREDENTIAL_NAME.search(before) is None:
        return m.group(0)
    if value.lower() in _PLACEHOLDER_VALUES or value.startswith("<REDACTED_") or len(set(value)) < 4:
        return m.group(0)
    return _group("SECRET")(m)


# Order matters: specific token shapes first, so the generic assignment rule sees placeholders.
_RULES: tuple[tuple[str, re.Pattern[str], Replacement], ...] = (
    (
        "PRIVATE_KEY",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
            re.DOTALL,
        ),
        _whole("PRIVATE_KEY"),
    ),
    ("AWS_ACCESS_KEY", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), _whole("AWS_ACCESS_KEY")),
    (
        "AWS_SECRET_KEY",
        re.compile(
            r"(?i)aws_?secret(?:_?access)?_?key\w*[\"']?\s*[:=]\s*[\"'](?P<secret>[A-Za-z0-9/+=]{40})[\"']"
        ),
        _group("AWS_SECRET_KEY"),
    ),
    ("GITHUB_TOKEN", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"), _whole("GITHUB_TOKEN")),
    ("SLACK_TOKEN", re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}"), _whole("SLACK_TOKEN")),
    ("GOOGLE_API_KEY", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), _whole("GOOGLE_API_KEY")),
    ("API_KEY", re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"), _whole("API_KEY")),
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), _whole("JWT")),
    (
        "CONNECTION_PASSWORD",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@\"'<>]{1,64}:(?P<secret>[^\s@/\"'<>{}]{3,128})@[\w.-]+"),
        _group("CONNECTION_PASSWORD"),
    ),
    (
        "SECRET",
        # `= "literal"` / `: 'literal'` right after a credential-like name (checked in
        # `_generic`); only quoted literals, so `password = getpass()` stays. Anchoring on the
        # assignment and looking back is ~10x faster than a case-insensitive name alternation.
        re.compile(r"""[:=][ \t]*[rbu]?(?P<q>["'])(?P<secret>[^"'\s\\]{8,200})(?P=q)"""),
        _generic,
    ),
)


# A rule runs only on text containing one of its literals (lower-cased for SECRET): a substring
# test is far cheaper than a regex scan, and most files hold none of them.
_HINTS: dict[str, tuple[str, ...]] = {
    "PRIVATE_KEY": ("PRIVATE KEY",),
    "AWS_ACCESS_KEY": ("AKIA", "ASIA"),
    "AWS_SECRET_KEY": ("ecret",),
    "GITHUB_TOKEN": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "SLACK_TOKEN": ("xox",),
    "GOOGLE_API_KEY": ("AIza",),
    "API_KEY": ("sk-",),
    "JWT": ("eyJ",),
    "CONNECTION_PASSWORD": ("://",),
    "SECRET": ("password", "passwd", "pwd", "secret", "key", "token"),
}


def redact_secrets(text: str) -> tuple[str, Counter[str]]:
    """Replace credentials in `text` by placeholders; count replacements per kind."""
    counts: Counter[str] = Counter()
    lowered = text.lower()
    for kind, pattern, replace in _RULES:
        haystack = lowered if kind == "SECRET" else text
        if not any(hint in haystack for hint in _HINTS[kind]):
            continue
        n = 0

        def counted(m: re.Match[str], replace: Replacement = replace) -> str:
            nonlocal n
            new = replace(m)
            if new != m.group(0):
                n += 1
            return new

        text = pattern.sub(counted, text)
        if n:
            counts[kind.lower()] += n
    return text, counts
