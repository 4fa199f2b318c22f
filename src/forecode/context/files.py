"""Which files of a workspace go into the index, and which never do.

Listed by git (`git ls-files --cached --others --exclude-standard`, so .gitignore, the global
excludes and .git/info/exclude all apply) when the root is in a git work tree, else by walking
the folder with its .gitignore files; then `.forecodeignore` (gitignore syntax, at the root).
Never indexed, whatever the ignore files say: secrets files by name (`.env`, keys,
credentials), files holding a private key, binary or non-UTF-8 files, files over
MAX_FILE_BYTES, and files that are not source or configuration text.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from forecode.context.ignore import IgnoreFiles, PathMatcher, read_patterns
from forecode.corpus.secrets import redact_secrets
from forecode.corpus.sources import SKIPPED_DIRS

MAX_FILE_BYTES = 1_000_000
FORECODEIGNORE = ".forecodeignore"

# Secrets by file name, matched on the name alone (case-insensitive). `credentials` and `secrets`
# files are data formats only: `credentials.py` or `secrets.py` is code that handles them.
_SECRET_DATA = ("", ".json", ".yml", ".yaml", ".toml", ".ini", ".cfg", ".conf", ".xml", ".txt", ".csv", ".env")
SECRET_NAMES: tuple[str, ...] = (
    ".env", ".env.*", "*.env", ".envrc", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.ppk", "*credentials.json",
    ".netrc", "_netrc", ".pypirc", ".npmrc", ".git-credentials", ".htpasswd", ".pgpass",
    "*.secret", "*.secrets", "service-account*.json", "*.tfstate", "*.tfvars",
    *(f"{stem}{ext}" for stem in ("credentials", "secrets") for ext in _SECRET_DATA),
)

SOURCE_SUFFIXES = frozenset(
    ".py .pyi .pyw .pyx .pxd .ipynb .js .jsx .mjs .cjs .ts .tsx .vue .svelte .java .kt .kts .scala .go .rs .c .h "
    ".cc .cpp .cxx .hpp .hh .cs .fs .rb .php .swift .m .mm .lua .r .jl .pl .pm .sh .bash .zsh .fish .ps1 .sql "
    ".html .htm .css .scss .sass .less .toml .yaml .yml .cfg .ini .md .rst .proto .graphql .tf .dart .ex .exs "
    ".erl .hs .ml .clj .el .vim .nix .zig".split()
)
SOURCE_NAMES = frozenset({"Makefile", "Dockerfile", "CMakeLists.txt", "Justfile", "Rakefile", "Gemfile", "BUILD",
                          "WORKSPACE", "Containerfile"})


_SECRET_NAME = re.compile("|".join(fnmatch.translate(p) for p in SECRET_NAMES))


def is_secret_name(rel: str) -> bool:
    return _SECRET_NAME.match(rel.rsplit("/", 1)[-1].lower()) is not None


def is_source_name(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name in SOURCE_NAMES or os.path.splitext(name)[1].lower() in SOURCE_SUFFIXES


def refusal_by_name(rel: str) -> str | None:
    """Why `rel` is never indexed, from its path alone; None when it may be."""
    if is_secret_name(rel):
        return "secrets file"
    if any(part in SKIPPED_DIRS for part in rel.split("/")[:-1]):
        return "tool folder"
    if not is_source_name(rel):
        return "not source"
    return None


def readable_text(data: bytes) -> tuple[str | None, str]:
    """(text, "") for indexable content, with credentials in it redacted; (None, why) if not."""
    if len(data) > MAX_FILE_BYTES:
        return None, "too large"
    if b"\x00" in data[:8192]:
        return None, "binary"
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    return screened_text(text)


def screened_text(text: str) -> tuple[str | None, str]:
    """`text` with credentials redacted (line numbers kept); None for text with a private key."""
    redacted, counts = redact_secrets(text)
    if counts.get("private_key"):
        return None, "private key"
    return redacted, ""


class WorkspaceFiles:
    """The file list of one workspace root, and the ignore check for a single path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.forecodeignore: PathMatcher | None = read_patterns(root / FORECODEIGNORE)
        # In a git work tree, unless the root itself is ignored there (a tool's folder inside
        # a repository, such as pyenv's versions/): then it is walked as a plain folder.
        self.in_git = (_git(root, "rev-parse", "--is-inside-work-tree") is not None
                       and _git(root, "check-ignore", "-q", str(root)) is None)
        self._gitignores = IgnoreFiles(root, ".gitignore")

    def listing(self) -> list[str]:
        """Every indexable candidate, POSIX and relative to the root, sorted (content is
        checked when it is read)."""
        listed = self._git_listing() if self.in_git else None
        paths = listed if listed is not None else list(self._walk())
        return sorted(p for p in paths if refusal_by_name(p) is None and not self._forecode_ignored(p))

    def is_ignored(self, rel: str) -> bool:
        """Whether `rel` is excluded by .gitignore or .forecodeignore (or a tool folder), for
        one file an editor opened: the full listing is not repeated for it."""
        if self._forecode_ignored(rel) or any(part in SKIPPED_DIRS for part in rel.split("/")[:-1]):
            return True
        if self.in_git:
            tracked = _git(self.root, "ls-files", "--cached", "-z", "--", rel)
            if tracked:
                return False
            return _git(self.root, "check-ignore", "-q", "--", rel) is not None
        return self._gitignores.is_ignored(rel)

    def _forecode_ignored(self, rel: str) -> bool:
        return self.forecodeignore is not None and self.forecodeignore.match_file(rel)

    def _git_listing(self) -> list[str] | None:
        out = _git(self.root, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
        if out is None:
            return None
        found = []
        for rel in dict.fromkeys(p for p in out.split("\0") if p):
            path = self.root / rel
            if not path.is_symlink() and path.is_file():
                found.append(rel)
        return found

    def _walk(self) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            folder = Path(dirpath).relative_to(self.root).as_posix()
            prefix = "" if folder == "." else folder + "/"
            kept = []
            for d in dirnames:
                rel = prefix + d
                if d in SKIPPED_DIRS or d.endswith((".dist-info", ".egg-info")) or os.path.islink(os.path.join(dirpath, d)):
                    continue
                if self._gitignores.is_ignored(rel, is_folder=True) or self._forecode_ignored(rel + "/"):
                    continue
                kept.append(d)
            dirnames[:] = kept
            for name in filenames:
                rel = prefix + name
                if os.path.islink(os.path.join(dirpath, name)):
                    continue
                if refusal_by_name(rel) is None and not self._gitignores.is_ignored(rel):
                    yield rel


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False, timeout=120)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", errors="surrogateescape") if done.returncode == 0 else None
