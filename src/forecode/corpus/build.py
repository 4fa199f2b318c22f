"""`build_corpus`: sources -> filters -> secret redaction -> dedup -> shards + manifest.

Files are read, checked, redacted and MinHashed in worker processes (in order, via `imap`);
the parent does deduplication and writing, so the output depends only on the inputs. The corpus
is written into a temporary sibling folder and moved into place at the end: an interrupted run
leaves the previous corpus (or nothing) and never half of one.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from forecode.corpus import filters, sources
from forecode.corpus.dedup import (
    NEAR_DUP_METHOD,
    HashValues,
    NearDuplicateIndex,
    exact_key,
    minhash_values,
)
from forecode.corpus.holdout import (
    excluded_package_set,
    is_excluded_package,
    is_held_out_path,
)
from forecode.corpus.language import KNOWN_LANGUAGES, detect_language, may_be_script
from forecode.corpus.licenses import is_permissive
from forecode.corpus.manifest import (
    BuildCounts,
    KeptFile,
    build_manifest,
    write_manifest,
)
from forecode.corpus.secrets import redact_secrets
from forecode.corpus.shards import (
    FILES_NAME,
    MANIFEST_NAME,
    ShardWriter,
    write_jsonl_zst,
)
from forecode.errors import InputError

MiB = 1 << 20
_HELD_OUT = excluded_package_set()


@dataclass(frozen=True)
class BuildOptions:
    """Everything that decides the content of a corpus (and nothing that does not)."""

    out: Path
    folders: tuple[Path, ...] = ()
    git_repos: tuple[Path, ...] = ()
    site_packages: bool = False
    site_packages_dirs: tuple[Path, ...] = ()
    stdlib: bool = False
    languages: tuple[str, ...] = ()  # empty: all known languages
    permissive_only: bool = False
    exclude_packages: tuple[str, ...] = ()
    max_file_bytes: int = 1_000_000
    max_line_length: int = 1000
    near_dup_threshold: float = 0.85
    shard_bytes: int = 64 * MiB


@dataclass(frozen=True)
class BuildSummary:
    out: Path
    files_seen: int
    files_kept: int
    bytes_kept: int
    shards: int
    filtered: dict[str, int]
    exact_duplicates: int
    near_duplicates: int
    secrets_redacted: dict[str, int]


@dataclass(frozen=True)
class _Screen:
    """What the workers need to decide about one file."""

    languages: frozenset[str]
    max_file_bytes: int
    max_line_length: int


@dataclass(frozen=True)
class _Prepared:
    """A file after reading: a reason to drop it, or its redacted text and fingerprints."""

    reason: str | None
    language: str = ""
    text: str = ""
    redactions: tuple[tuple[str, int], ...] = ()
    exact: str = ""
    minhash: HashValues | None = None


def build_corpus(options: BuildOptions, *, workers: int | None = None, progress: bool = True) -> BuildSummary:
    """Build the corpus described by `options` into `options.out`; see the module docstring."""
    _check_options(options)
    out = options.out.expanduser().resolve()
    _check_out_dir(out)
    excluded = excluded_package_set(options.exclude_packages)
    candidates = list(_candidates(options))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        tmp.chmod(0o755)
        counts, shard_names = _write_corpus(tmp, options, candidates, excluded, workers, progress)
        manifest = build_manifest(
            _options_for_manifest(options), counts, sorted(excluded), shard_names, NEAR_DUP_METHOD
        )
        write_manifest(tmp / MANIFEST_NAME, manifest)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildSummary(
        out=out,
        files_seen=counts.files_seen,
        files_kept=len(counts.kept),
        bytes_kept=counts.bytes_kept,
        shards=len(shard_names),
        filtered=dict(sorted(counts.filtered.items())),
        exact_duplicates=counts.exact_duplicates,
        near_duplicates=counts.near_duplicates,
        secrets_redacted=dict(sorted(counts.secrets_redacted.items())),
    )


def _check_options(options: BuildOptions) -> None:
    if not (options.folders or options.git_repos or options.site_packages or options.site_packages_dirs or options.stdlib):
        raise InputError("no sources given: pass folders, --git, --site-packages, --site-packages-dir or --stdlib")
    unknown = sorted(set(options.languages) - KNOWN_LANGUAGES)
    if unknown:
        raise InputError(f"unknown --language {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_LANGUAGES))}")
    if not 0.0 < options.near_dup_threshold <= 1.0:
        raise InputError(f"--near-dup-threshold must be in (0, 1], got {options.near_dup_threshold}")
    for name, value in (("--max-file-bytes", options.max_file_bytes), ("--max-line-length", options.max_line_length), ("--shard-bytes", options.shard_bytes)):
        if value <= 0:
            raise InputError(f"{name} must be positive, got {value}")


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} is an existing file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        raise InputError(f"--out {str(out)!r} is a non-empty folder that is not a corpus; refusing to replace it")


def _candidates(options: BuildOptions) -> Iterator[sources.SourceFile]:
    """All sources' files in a fixed order: folders, git, site-packages, stdlib; each sorted."""
    streams: list[Iterable[sources.SourceFile]] = [sources.folder_files(f) for f in options.folders]
    streams += [sources.git_files(r) for r in options.git_repos]
    site_dirs = (sources.running_site_packages() if options.site_packages else []) + list(options.site_packages_dirs)
    streams += [sources.site_packages_files(d) for d in site_dirs]
    if options.stdlib:
        streams.append(sources.stdlib_files())
    for stream in streams:
        yield from stream


def _write_corpus(
    folder: Path,
    options: BuildOptions,
    candidates: list[sources.SourceFile],
    excluded: frozenset[str],
    workers: int | None,
    progress: bool,
) -> tuple[BuildCounts, list[str]]:
    counts = BuildCounts(files_seen=len(candidates))
    screen = _Screen(frozenset(options.languages) or KNOWN_LANGUAGES, options.max_file_bytes, options.max_line_length)
    to_read: list[sources.SourceFile] = []
    for candidate in candidates:
        reason = _reason_before_reading(candidate, options, excluded, screen)
        if reason is None:
            to_read.append(candidate)
        else:
            counts.filtered[reason] += 1

    seen_exact: set[str] = set()
    near = NearDuplicateIndex(options.near_dup_threshold)
    writer = ShardWriter(folder, options.shard_bytes)
    bar = tqdm(total=len(to_read), desc="reading files", unit="file", disable=not progress)
    try:
        for candidate, prepared in zip(to_read, _prepare_all(to_read, screen, workers)):
            bar.update()
            if prepared.reason is not None:
                counts.filtered[prepared.reason] += 1
                continue
            counts.secrets_redacted.update(dict(prepared.redactions))
            if prepared.exact in seen_exact:
                counts.exact_duplicates += 1
                continue
            seen_exact.add(prepared.exact)
            assert prepared.minhash is not None
            if near.check_and_add(prepared.exact, prepared.minhash):
                counts.near_duplicates += 1
                continue
            kept = KeptFile(
                path=candidate.rel_path,
                source=candidate.source,
                package=candidate.package,
                version=candidate.version,
                license=candidate.license,
                sha256=_sha256(prepared.text),
                bytes=len(prepared.text.encode("utf-8")),
            )
            writer.write(
                {
                    "text": prepared.text,
                    "path": kept.path,
                    "language": prepared.language,
                    "source": kept.source,
                    "package": kept.package,
                    "version": kept.version,
                    "license": kept.license,
                    "sha256": kept.sha256,
                }
            )
            counts.kept.append(kept)
    finally:
        bar.close()
    shard_paths = writer.close()
    write_jsonl_zst(folder / FILES_NAME, [asdict(f) for f in counts.kept])
    return counts, [p.name for p in shard_paths]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reason_before_reading(
    candidate: sources.SourceFile, options: BuildOptions, excluded: frozenset[str], screen: _Screen
) -> str | None:
    """Reasons that need no file content: held out, excluded, licence, language by extension, size."""
    if is_held_out_path(candidate.rel_path) or is_excluded_package(candidate.package, _HELD_OUT):
        return filters.HELD_OUT
    if is_excluded_package(candidate.package, excluded):
        return filters.EXCLUDED_PACKAGE
    if not may_be_script(candidate.rel_path):
        language = detect_language(candidate.rel_path)
        if language is None or language not in screen.languages:
            return filters.LANGUAGE
    if options.permissive_only and not is_permissive(candidate.license):
        return filters.LICENSE
    try:
        if candidate.path.stat().st_size > screen.max_file_bytes:
            return filters.TOO_LARGE
    except OSError:
        return filters.BINARY
    return None


def _prepare_all(files: list[sources.SourceFile], screen: _Screen, workers: int | None) -> Iterator[_Prepared]:
    n = workers if workers is not None else min(os.cpu_count() or 1, 8)
    paths = [(f.path, f.rel_path, screen) for f in files]
    if n <= 1 or len(files) < 64:
        yield from (_prepare(item) for item in paths)
        return
    with multiprocessing.get_context("fork").Pool(n) as pool:
        yield from pool.imap(_prepare, paths, chunksize=32)


def _prepare(item: tuple[Path, str, _Screen]) -> _Prepared:
    """Read, decode, check and redact one file; fingerprint it for deduplication."""
    path, rel_path, screen = item
    try:
        data = path.read_bytes()
    except OSError:
        return _Prepared(filters.BINARY)
    if len(data) > screen.max_file_bytes:
        return _Prepared(filters.TOO_LARGE)
    text = filters.decode_text(data)
    if text is None:
        return _Prepared(filters.BINARY)
    language = detect_language(rel_path, text[:200].partition("\n")[0])
    if language is None or language not in screen.languages:
        return _Prepared(filters.LANGUAGE)
    reason = filters.quality_reason(text, screen.max_line_length)
    if reason is not None:
        return _Prepared(reason)
    text, redactions = redact_secrets(text)
    return _Prepared(None, language, text, tuple(sorted(redactions.items())), exact_key(text), minhash_values(text))


def _options_for_manifest(options: BuildOptions) -> dict[str, Any]:
    values = asdict(options)
    return {key: _jsonable(value) for key, value in values.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value.expanduser().resolve())
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def _replace_dir(new: Path, out: Path) -> None:
    """Move the finished corpus into place; the old corpus is removed only after the move."""
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        old.rmdir()
        out.rename(old)
        new.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(out)
