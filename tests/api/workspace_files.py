"""A small repository for the servers' workspace-index tests: pkg/app.py imports a function
pkg/helpers.py defines; the editor's version of app.py and the disk's differ in one name."""

from __future__ import annotations

from pathlib import Path

HELPERS = "def shout(s):\n    return s\n"  # small: the tiny model's context leaves snippets some 40 tokens
ON_DISK = "from pkg.helpers import shout\nwalrus = 1\n"  # pkg/app.py on disk
EDITED = "from pkg.helpers import shout\nzebra = 2\nshout("  # pkg/app.py in the editor


def make_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "helpers.py").write_text(HELPERS)
    (root / "pkg" / "app.py").write_text(ON_DISK)
    return root
