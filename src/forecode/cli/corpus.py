"""`forecode corpus build`: a thin adapter over `forecode.corpus.build.build_corpus`."""

from __future__ import annotations

from pathlib import Path

import click

from forecode.corpus.build import BuildOptions, build_corpus
from forecode.corpus.holdout import HELD_OUT_PACKAGES

_DIR = click.Path(path_type=Path, file_okay=False)


@click.group()
def corpus() -> None:
    """Build and inspect training corpora."""


@corpus.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--git", "git_repos", multiple=True, type=click.Path(path_type=Path), help="Git repository (tracked files only); repeatable.")
@click.option("--site-packages", is_flag=True, help="The running interpreter's site-packages.")
@click.option("--site-packages-dir", "site_packages_dirs", multiple=True, type=click.Path(path_type=Path), help="Another site-packages folder; repeatable.")
@click.option("--stdlib", is_flag=True, help="The running interpreter's standard library.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Corpus folder to write (replaced atomically).")
@click.option("--language", "languages", multiple=True, help="Keep only this language (e.g. python); repeatable. Default: all known.")
@click.option("--permissive-only", is_flag=True, help="Drop files whose licence is not permissive (or unknown).")
@click.option("--exclude-package", "exclude_packages", multiple=True, help=f"Distribution to leave out; repeatable. Always left out: {', '.join(HELD_OUT_PACKAGES)}.")
@click.option("--max-file-bytes", type=int, default=1_000_000, show_default=True)
@click.option("--max-line-length", type=int, default=1000, show_default=True)
@click.option("--near-dup-threshold", type=float, default=0.85, show_default=True, help="Estimated Jaccard similarity of word 5-grams.")
@click.option("--shard-bytes", type=int, default=64 * 1024 * 1024, show_default=True, help="Uncompressed bytes per shard.")
@click.option("--workers", type=int, default=None, help="Processes reading files (default: CPU count, at most 8).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def build(
    sources: tuple[Path, ...],
    git_repos: tuple[Path, ...],
    site_packages: bool,
    site_packages_dirs: tuple[Path, ...],
    stdlib: bool,
    out: Path,
    languages: tuple[str, ...],
    permissive_only: bool,
    exclude_packages: tuple[str, ...],
    max_file_bytes: int,
    max_line_length: int,
    near_dup_threshold: float,
    shard_bytes: int,
    workers: int | None,
    quiet: bool,
) -> None:
    """Build a corpus from SOURCES folders, git repositories and installed packages."""
    options = BuildOptions(
        out=out,
        folders=sources,
        git_repos=git_repos,
        site_packages=site_packages,
        site_packages_dirs=site_packages_dirs,
        stdlib=stdlib,
        languages=tuple(l.lower() for l in languages),
        permissive_only=permissive_only,
        exclude_packages=exclude_packages,
        max_file_bytes=max_file_bytes,
        max_line_length=max_line_length,
        near_dup_threshold=near_dup_threshold,
        shard_bytes=shard_bytes,
    )
    s = build_corpus(options, workers=workers, progress=not quiet)
    filtered = ", ".join(f"{k} {v}" for k, v in s.filtered.items()) or "none"
    secrets = ", ".join(f"{k} {v}" for k, v in s.secrets_redacted.items()) or "none"
    click.echo(
        f"Wrote {s.files_kept} of {s.files_seen} files ({s.bytes_kept / 1e6:.1f} MB) in {s.shards} shard(s) to {s.out}. "
        f"Filtered: {filtered}. Duplicates removed: {s.exact_duplicates} exact, {s.near_duplicates} near. "
        f"Secrets redacted: {secrets}. Details in {s.out / 'manifest.json'}."
    )


@corpus.command()
@click.argument("corpus_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Fingerprint file to write (zstd text).")
def fingerprints(corpus_dir: Path, out: Path) -> None:
    """Write one content fingerprint per file of CORPUS_DIR, to check evaluation data against."""
    from forecode.corpus.fingerprints import corpus_fingerprints, write_fingerprints

    n = write_fingerprints(out, corpus_fingerprints(corpus_dir))
    click.echo(f"Wrote {n} fingerprints to {out} ({out.stat().st_size / 1024:.0f} KiB).")
