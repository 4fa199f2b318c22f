"""gitignore-style patterns (`.gitignore`, `.forecodeignore`): `pathspec` when it is installed,
else a small matcher of the same rules (last match wins, `!` re-includes, a trailing `/`
matches folders only, a pattern with a `/` before its end is anchored to its file's folder,
`*` `?` `[...]` stay within one path part, `**` spans parts)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class PathMatcher(Protocol):
    def match_file(self, path: str) -> bool: ...


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negated: bool
    folders_only: bool


def _translate(pattern: str) -> str:
    """Regular expression for one gitignore pattern, without its `!` and trailing `/`."""
    anchored = "/" in pattern
    pattern = pattern.removeprefix("/")
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            close = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1)
            if close < 0:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1 : close]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = close + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return ("" if anchored else "(?:.*/)?") + "".join(out)


class GitignorePatterns:
    """The fallback matcher: `match_file("a/b/")` asks about a folder, `match_file("a/b")`
    about a file; a file inside an ignored folder is ignored."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.rules: list[_Rule] = []
        for raw in lines:
            line = raw.rstrip("\n").rstrip("\r")
            if not line.endswith("\\ "):
                line = line.rstrip(" ")
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            if negated:
                line = line[1:]
            folders_only = line.endswith("/")
            line = line.rstrip("/")
            if line:
                self.rules.append(_Rule(re.compile(_translate(line), re.DOTALL), negated, folders_only))

    def _matches(self, path: str, is_folder: bool) -> bool:
        ignored = False
        for rule in self.rules:
            if rule.folders_only and not is_folder:
                continue
            if rule.negated == ignored and rule.regex.fullmatch(path):
                ignored = not rule.negated
        return ignored

    def match_file(self, path: str) -> bool:
        is_folder = path.endswith("/")
        parts = path.rstrip("/").split("/")
        for i in range(1, len(parts)):
            if self._matches("/".join(parts[:i]), True):
                return True
        return self._matches("/".join(parts), is_folder)


def compile_patterns(lines: Iterable[str]) -> PathMatcher:
    lines = list(lines)
    try:
        import pathspec
    except ImportError:
        return GitignorePatterns(lines)
    spec: PathMatcher = pathspec.GitIgnoreSpec.from_lines(lines)
    return spec


def read_patterns(file: Path) -> PathMatcher | None:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return compile_patterns(text.splitlines())


class IgnoreFiles:
    """The ignore files of a folder tree: each applies below its own folder."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self._by_folder: dict[str, PathMatcher | None] = {}

    def _matcher(self, folder: str) -> PathMatcher | None:
        if folder not in self._by_folder:
            self._by_folder[folder] = read_patterns(self.root / folder / self.name)
        return self._by_folder[folder]

    def is_ignored(self, rel: str, is_folder: bool = False) -> bool:
        """Whether `rel` (POSIX, relative to the root) is ignored by any ignore file above it."""
        parts = rel.split("/")
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            matcher = self._matcher(folder)
            if matcher is None:
                continue
            below = posixpath.relpath(rel, folder) if folder else rel
            if matcher.match_file(below + ("/" if is_folder else "")):
                return True
        return False

    def forget(self, folder: str) -> None:
        self._by_folder.pop(folder, None)
