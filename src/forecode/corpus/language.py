"""Which programming language a file holds, from its extension or its shebang line."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript",
    ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin", ".scala": "scala",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".cs": "csharp", ".rb": "ruby", ".php": "php", ".swift": "swift", ".lua": "lua",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".pl": "perl", ".pm": "perl", ".r": "r", ".jl": "julia", ".hs": "haskell",
    ".ml": "ocaml", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".clj": "clojure",
    ".dart": "dart", ".sql": "sql", ".html": "html", ".css": "css", ".scss": "css",
    ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".md": "markdown",
    ".rst": "restructuredtext", ".pyx": "cython", ".pxd": "cython",
}

# Interpreter name in a shebang (after /usr/bin/env if present) -> language.
INTERPRETERS: dict[str, str] = {
    "python": "python", "pypy": "python",
    "node": "javascript", "deno": "typescript", "ruby": "ruby", "perl": "perl", "php": "php",
    "sh": "shell", "bash": "shell", "zsh": "shell", "dash": "shell", "lua": "lua",
    "rscript": "r", "julia": "julia",
}

KNOWN_LANGUAGES: frozenset[str] = frozenset(EXTENSIONS.values()) | frozenset(INTERPRETERS.values())

_SHEBANG = re.compile(r"#!\s*(\S+)(?:\s+(?:-\S+\s+)*(\S+))?")


def language_from_shebang(first_line: str) -> str | None:
    """`#!/usr/bin/env python3 -u` -> "python"; None when there is no known interpreter."""
    match = _SHEBANG.match(first_line)
    if match is None:
        return None
    program = PurePosixPath(match.group(1)).name
    if program == "env" and match.group(2):
        program = PurePosixPath(match.group(2)).name
    name = re.sub(r"[\d.]+$", "", program.lower())  # python3.11 -> python
    return INTERPRETERS.get(name)


def detect_language(path: str, first_line: str | None = None) -> str | None:
    """The language of `path` by extension, else by the shebang in `first_line`, else None."""
    language = EXTENSIONS.get(PurePosixPath(path).suffix.lower())
    if language is None and first_line is not None and first_line.startswith("#!"):
        language = language_from_shebang(first_line)
    return language


def may_be_script(path: str) -> bool:
    """Files without an extension can still be scripts; they need their first line read."""
    return PurePosixPath(path).suffix == ""
