"""The registry of workspace indexes: opened once per root, lazily, from many threads."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from context.workspace import PACKAGE, write

from forecode.context.workspaces import Workspaces
from forecode.errors import InputError


def test_one_index_per_root_opened_once_from_many_threads(tmp_path: Path) -> None:
    root = write(tmp_path / "ws", PACKAGE)
    workspaces = Workspaces(cache_dir=tmp_path / "cache")
    assert workspaces.roots() == []  # nothing opened before it is asked for
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(workspaces.get(root))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 6 and all(g is got[0] for g in got)
    assert workspaces.get(str(root) + "/") is got[0] and workspaces.get(root / "billing" / "..") is got[0]
    assert workspaces.roots() == [root.resolve()]
    assert "billing/parser.py" in workspaces.get(root).paths
    workspaces.close()
    assert list((tmp_path / "cache").glob("*/index.sqlite"))  # each root's cache in its own folder
    with pytest.raises(InputError, match="closed"):
        workspaces.get(root)


def test_a_root_that_is_not_a_folder_is_an_input_error(tmp_path: Path) -> None:
    with Workspaces(persist=False) as workspaces, pytest.raises(InputError, match="is not a folder"):
        workspaces.get(tmp_path / "missing")
