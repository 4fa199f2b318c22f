"""The corpus manifest: what went in, what was dropped and why, and where each kept file came from."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class KeptFile:
    """One kept file's provenance, as listed in `files.jsonl.zst`."""

    path: str
    source: str
    package: str
    version: str
    license: str
    sha256: str
    bytes: int


@dataclass
class BuildCounts:
    """Tallies gathered while building; turned into the manifest at the end."""

    files_seen: int = 0
    filtered: Counter[str] = field(default_factory=Counter)
    exact_duplicates: int = 0
    near_duplicates: int = 0
    secrets_redacted: Counter[str] = field(default_factory=Counter)
    kept: list[KeptFile] = field(default_factory=list)

    @property
    def bytes_kept(self) -> int:
        return sum(f.bytes for f in self.kept)


def package_table(kept: list[KeptFile]) -> list[dict[str, Any]]:
    """One row per (package, version, licence) of kept files, sorted by name then version."""
    files: Counter[tuple[str, str, str]] = Counter()
    sizes: Counter[tuple[str, str, str]] = Counter()
    for f in kept:
        key = (f.package, f.version, f.license)
        files[key] += 1
        sizes[key] += f.bytes
    return [
        {"name": name, "version": version, "license": license_id, "files": files[key], "bytes": sizes[key]}
        for key in sorted(files)
        for name, version, license_id in [key]
    ]


def build_manifest(
    options: dict[str, Any], counts: BuildCounts, excluded_packages: list[str], shards: list[str], near_dup_method: str
) -> dict[str, Any]:
    licenses = Counter(f.license for f in counts.kept)
    return {
        "format": "forecode-corpus/1",
        "options": options,
        "near_duplicates": {"threshold": options["near_dup_threshold"], "method": near_dup_method},
        "totals": {"files_seen": counts.files_seen, "files_kept": len(counts.kept), "bytes_kept": counts.bytes_kept},
        "filtered": dict(sorted(counts.filtered.items())),
        "duplicates": {"exact": counts.exact_duplicates, "near": counts.near_duplicates},
        "secrets_redacted": dict(sorted(counts.secrets_redacted.items())),
        "packages": package_table(counts.kept),
        "licenses": dict(sorted(licenses.items())),
        "excluded_packages": excluded_packages,
        "shards": shards,
    }


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
