"""Where corpus files come from: folders, git repositories, site-packages and the stdlib.

Each source yields `SourceFile`s in sorted path order, so a build is deterministic and the
first-seen copy of a duplicate is always the same one.
"""

from __future__ import annotations

import csv
import email.parser
import os
import platform
import subprocess
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from forecode.corpus.licenses import (
    UNKNOWN,
    LicenseFinder,
    is_license_file_name,
    license_from_files,
    license_from_metadata,
)
from forecode.errors import InputError

# Folders that never hold source worth training on; skipped without being counted.
SKIPPED_DIRS: frozenset[str] = frozenset(
    {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox",
     ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs"}
)


@dataclass(frozen=True)
class SourceFile:
    """One candidate file and where it came from."""

    path: Path  # absolute, for reading
    rel_path: str  # POSIX, relative to the source root (site-packages: `click/core.py`)
    source: str  # "folder" | "git" | "site-packages" | "stdlib"
    package: str
    version: str
    license: str


@dataclass(frozen=True)
class Distribution:
    """An installed distribution, read from its `*.dist-info` or `*.egg-info` folder."""

    name: str
    version: str
    license: str
    files: frozenset[str]  # RECORD paths, relative to site-packages
    top_level: frozenset[str]


def _walk_sorted(root: Path, skip: frozenset[str] = SKIPPED_DIRS) -> list[Path]:
    """Files under `root`, sorted by their path relative to it (so `a/x.py` before `b.py`)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip and not d.endswith((".dist-info", ".egg-info"))]
        found.extend(path for name in filenames if (path := Path(dirpath, name)).is_file())
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def folder_files(root: Path) -> Iterator[SourceFile]:
    """Every file under `root` (minus SKIPPED_DIRS); licence from the nearest LICENSE file."""
    root = _existing_dir(root, "source folder")
    finder = LicenseFinder(root)
    for path in _walk_sorted(root):
        yield SourceFile(path, path.relative_to(root).as_posix(), "folder", root.name, "", finder.license_for(path))


def git_files(repo: Path) -> Iterator[SourceFile]:
    """Files tracked by git (`git ls-files -z`); version is the HEAD commit."""
    repo = _existing_dir(repo, "--git repository")
    listed = _git(repo, "ls-files", "-z")
    if listed is None:
        raise InputError(f"--git {repo} is not a git repository (git ls-files failed there)")
    head = _git(repo, "rev-parse", "HEAD") or ""
    finder = LicenseFinder(repo)
    for rel in sorted(p for p in listed.split("\0") if p):
        path = repo / rel
        if path.is_file() and not path.is_symlink():
            yield SourceFile(path, rel, "git", repo.name, head.strip(), finder.license_for(path))


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise InputError("--git needs the `git` program, which is not on PATH") from exc
    return done.stdout.decode("utf-8", errors="surrogateescape") if done.returncode == 0 else None


def read_distributions(site_packages: Path) -> list[Distribution]:
    """All `*.dist-info` / `*.egg-info` folders directly in `site_packages`, sorted by folder name."""
    found: list[Distribution] = []
    for info in sorted(site_packages.iterdir()):
        if info.is_dir() and info.name.endswith(".dist-info"):
            found.append(_read_info(info, "METADATA", "RECORD"))
        elif info.is_dir() and info.name.endswith(".egg-info"):
            found.append(_read_info(info, "PKG-INFO", "installed-files.txt"))
    return found


def _read_info(info: Path, metadata_name: str, record_name: str) -> Distribution:
    try:
        text = (info / metadata_name).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    metadata = email.parser.HeaderParser().parsestr(text)
    name = str(metadata.get("Name") or info.name.split("-")[0])
    license_id = license_from_metadata(metadata)
    if license_id == UNKNOWN:
        license_files = [p for p in info.rglob("*") if p.is_file() and is_license_file_name(p.name)]
        license_id = license_from_files(license_files)
    files: set[str] = set()
    record = info / record_name
    if record.is_file():
        with record.open(encoding="utf-8", errors="replace", newline="") as handle:
            for row in csv.reader(handle):
                if row:
                    rel = os.path.normpath(row[0] if metadata_name == "METADATA" else os.path.join(info.name, row[0]))
                    files.add(Path(rel).as_posix())
    top_level_file = info / "top_level.txt"
    top_level = set(top_level_file.read_text(encoding="utf-8").split()) if top_level_file.is_file() else set()
    for rel in files:
        first, _, rest = rel.partition("/")
        if first != ".." and not first.endswith((".dist-info", ".egg-info")):
            if rest or first.endswith(".py"):
                top_level.add(first.removesuffix(".py"))
    return Distribution(name, str(metadata.get("Version") or ""), license_id, frozenset(files), frozenset(top_level))


def site_packages_files(site_packages: Path, source: str = "site-packages") -> Iterator[SourceFile]:
    """Files in a site-packages folder, each mapped to its distribution by RECORD or top-level name."""
    root = _existing_dir(site_packages, "site-packages folder")
    distributions = read_distributions(root)
    by_file = {f: d for d in distributions for f in d.files}
    by_top = {t: d for d in distributions for t in sorted(d.top_level)}
    for path in _walk_sorted(root):
        rel = path.relative_to(root).as_posix()
        dist = by_file.get(rel) or by_top.get(rel.split("/")[0].removesuffix(".py"))
        if dist is not None:
            yield SourceFile(path, rel, source, dist.name, dist.version, dist.license)
        else:
            yield SourceFile(path, rel, source, rel.split("/")[0].removesuffix(".py"), "", UNKNOWN)


def running_site_packages() -> list[Path]:
    """The running interpreter's site-packages folders."""
    import site

    return [Path(p) for p in site.getsitepackages() if Path(p).is_dir()]


def stdlib_files() -> Iterator[SourceFile]:
    """The running interpreter's standard library, without its site-packages."""
    root = Path(sysconfig.get_paths()["stdlib"])
    version = platform.python_version()
    skip = SKIPPED_DIRS | {"site-packages", "dist-packages"}
    for path in _walk_sorted(root, skip):
        yield SourceFile(path, path.relative_to(root).as_posix(), "stdlib", "python-stdlib", version, "PSF-2.0")


def _existing_dir(path: Path, what: str) -> Path:
    resolved = path.expanduser().resolve()
    if not resolved.exists():
        raise InputError(f"{what} {str(path)!r} does not exist")
    if not resolved.is_dir():
        raise InputError(f"{what} {str(path)!r} is not a folder")
    return resolved
