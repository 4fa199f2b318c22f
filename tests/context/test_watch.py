"""The polling watcher picks up files changed, added and deleted on disk."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from context.workspace import write

from forecode.context.index import WorkspaceIndex
from forecode.context.watch import PollingWatcher


def _eventually(condition: Callable[[], bool], within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_watcher_sees_edits_new_files_and_deletions(tmp_path: Path) -> None:
    root = write(tmp_path / "ws", {"a.py": "def alpha_original():\n    pass\n", "b.py": "def beta_function():\n    pass\n"})
    index = WorkspaceIndex.open(root, tmp_path / "cache")
    with PollingWatcher(index, interval=0.02) as watcher:
        (root / "a.py").write_text("def alpha_rewritten_version():\n    return 1\n")
        (root / "c.py").write_text("def gamma_added_later():\n    pass\n")
        (root / "b.py").unlink()
        assert _eventually(lambda: "c.py" in index.paths and "b.py" not in index.paths
                           and bool(index.retrieve("alpha_rewritten_version", k=1)))
        assert watcher.polls >= 1
    assert not any("alpha_original" in h.text or "beta_function" in h.text
                   for h in index.retrieve("alpha_original beta_function", k=20))
    assert index.retrieve("gamma_added_later", k=1)[0].path == "c.py"


def test_a_refresh_applies_a_changed_forecodeignore(tmp_path: Path) -> None:
    root = write(tmp_path / "ws", {"a.py": "x = 1\n", "gen/b.py": "y = 2\n"})
    index = WorkspaceIndex.open(root, tmp_path / "cache")
    assert index.paths == ["a.py", "gen/b.py"]
    (root / ".forecodeignore").write_text("gen/\n")
    index.refresh()
    assert index.paths == ["a.py"]
