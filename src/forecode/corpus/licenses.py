"""Licence identifiers: from package metadata, from LICENSE/COPYING texts, and which are permissive.

Identifiers are SPDX-like ("MIT", "BSD-3-Clause", "Apache-2.0"); anything not recognised is
"unknown", which is never treated as permissive.
"""

from __future__ import annotations

import re
from email.message import Message
from pathlib import Path

UNKNOWN = "unknown"

PERMISSIVE: frozenset[str] = frozenset(
    s.lower()
    for s in (
        "MIT", "Apache-2.0", "PSF-2.0", "Python-2.0", "ISC", "Unlicense", "CC0-1.0", "Zlib",
        "0BSD", "HPND", "MIT-CMU", "BSD", "BSL-1.0",
    )
)
_NOT_PERMISSIVE = re.compile(r"GPL|MPL|EPL|unknown", re.IGNORECASE)

# Classifier tail or free-text `License:` value (lower-cased) -> SPDX-like id.
_NAMES: dict[str, str] = {
    "mit": "MIT", "mit license": "MIT", "the mit license": "MIT", "expat": "MIT",
    "bsd": "BSD-3-Clause", "bsd license": "BSD-3-Clause", "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause",
    "bsd-3-clause": "BSD-3-Clause", "bsd 3-clause": "BSD-3-Clause",
    "bsd-2-clause": "BSD-2-Clause", "simplified bsd": "BSD-2-Clause", "2-clause bsd": "BSD-2-Clause",
    "apache": "Apache-2.0", "apache 2": "Apache-2.0", "apache 2.0": "Apache-2.0",
    "apache-2.0": "Apache-2.0", "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0", "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "psf": "PSF-2.0", "psf-2.0": "PSF-2.0", "python software foundation license": "PSF-2.0",
    "isc": "ISC", "isc license": "ISC", "isc license (iscl)": "ISC",
    "the unlicense (unlicense)": "Unlicense", "unlicense": "Unlicense",
    "zlib": "Zlib", "zlib/libpng license": "Zlib", "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0",
    "historical permission notice and disclaimer (hpnd)": "HPND",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0", "mpl-2.0": "MPL-2.0",
    "gnu general public license v2 (gplv2)": "GPL-2.0", "gnu general public license v3 (gplv3)": "GPL-3.0",
    "gnu general public license (gpl)": "GPL", "gpl": "GPL",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0",
    "gnu library or lesser general public license (lgpl)": "LGPL",
    "gnu affero general public license v3": "AGPL-3.0",
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0",
}


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def license_from_text(text: str) -> str:
    """Recognise a licence by the phrases its full text always contains."""
    t = _squash(text)
    if "gnu affero general public license" in t:
        return "AGPL-3.0"
    if "gnu lesser general public license" in t or "gnu library general public license" in t:
        return "LGPL-3.0" if "version 3" in t else "LGPL-2.1"
    if "gnu general public license" in t:
        return "GPL-3.0" if "version 3" in t else "GPL-2.0"
    if "mozilla public license" in t:
        return "MPL-2.0" if "version 2.0" in t or "2.0" in t else "MPL-1.1"
    if "apache license" in t and "version 2.0" in t:
        return "Apache-2.0"
    if "this is free and unencumbered software released into the public domain" in t:
        return "Unlicense"
    if "python software foundation license" in t:
        return "PSF-2.0"
    if "permission is hereby granted, free of charge" in t:
        return "MIT"
    if re.search(r"permission to use, copy, modify, and(/or)? distribute this software for any purpose", t):
        return "ISC"
    if "redistribution and use in source and binary forms" in t:
        if "neither the name" in t or "endorse or promote" in t:
            return "BSD-3-Clause"
        return "BSD-2-Clause"
    return UNKNOWN


def license_from_name(name: str) -> str:
    """A short licence name or SPDX expression -> an id; long values are read as licence text."""
    value = name.strip()
    if not value or value.lower() in {"unknown", "none", "n/a", "other", "other/proprietary license"}:
        return UNKNOWN
    if len(value) > 120 or "\n" in value:
        return license_from_text(value)
    return _NAMES.get(value.lower(), value if re.fullmatch(r"[\w.+-]+(?: (?:OR|AND|WITH) [\w.+-]+)*", value) else UNKNOWN)


def license_from_metadata(metadata: Message) -> str:
    """`License-Expression`, else a recognised `License` field, else `License ::` classifiers."""
    expression = metadata.get("License-Expression")
    if expression:
        return str(expression).strip()
    field = metadata.get("License")
    if field:
        found = license_from_name(str(field))
        if found != UNKNOWN:
            return found
    from_classifiers: list[str] = []
    for classifier in metadata.get_all("Classifier") or []:
        parts = [p.strip() for p in str(classifier).split("::")]
        if parts[0] == "License" and len(parts) > 1:
            found = license_from_name(parts[-1])
            if found != UNKNOWN and found not in from_classifiers:
                from_classifiers.append(found)
    return " OR ".join(from_classifiers) if from_classifiers else UNKNOWN


def is_license_file_name(name: str) -> bool:
    return re.match(r"(licen[cs]e|copying)", name, re.IGNORECASE) is not None


def license_from_files(paths: list[Path]) -> str:
    """The licence of the first recognised LICENSE/COPYING file among `paths` (sorted by name)."""
    for path in sorted(paths):
        try:
            found = license_from_text(path.read_text(encoding="utf-8", errors="replace")[:200_000])
        except OSError:
            continue
        if found != UNKNOWN:
            return found
    return UNKNOWN


class LicenseFinder:
    """Finds the LICENSE/COPYING file at or above a file, up to its source root; cached per folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._by_dir: dict[Path, str] = {}

    def license_for(self, file: Path) -> str:
        return self._for_dir(file.parent)

    def _for_dir(self, folder: Path) -> str:
        cached = self._by_dir.get(folder)
        if cached is not None:
            return cached
        try:
            candidates = [p for p in folder.iterdir() if is_license_file_name(p.name) and p.is_file()]
        except OSError:
            candidates = []
        found = license_from_files(candidates) if candidates else UNKNOWN
        if found == UNKNOWN and folder != self.root and self.root in folder.parents:
            found = self._for_dir(folder.parent)
        self._by_dir[folder] = found
        return found


def _strip_atom(atom: str) -> str:
    atom = atom.strip().strip("()").strip()
    atom = re.split(r"\s+WITH\s+", atom, flags=re.IGNORECASE)[0]
    return re.sub(r"(\+|-only|-or-later)$", "", atom).lower()


def _is_permissive_atom(atom: str) -> bool:
    name = _strip_atom(atom)
    if _NOT_PERMISSIVE.search(name):
        return False
    return name in PERMISSIVE or name.startswith("bsd-")


def is_permissive(license_id: str) -> bool:
    """"A OR B" is permissive if any alternative is; "A AND B" only if all parts are."""
    alternatives = re.split(r"\s+OR\s+", license_id.strip(), flags=re.IGNORECASE)
    return any(
        all(_is_permissive_atom(part) for part in re.split(r"\s+AND\s+", alt, flags=re.IGNORECASE))
        for alt in alternatives
        if alt.strip()
    )
