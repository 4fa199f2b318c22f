"""What goes into the index: .gitignore and .forecodeignore respected, in git repositories and
plain folders; secrets, keys, binaries and huge files never."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import pytest
from context.workspace import git_init, write

from forecode.context.files import MAX_FILE_BYTES, WorkspaceFiles, is_secret_name
from forecode.context.ignore import GitignorePatterns
from forecode.context.index import WorkspaceIndex

SECRET = "hunter2-SECRET-VALUE-5521"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAunique0private0key0body\n-----END RSA PRIVATE KEY-----\n"

IGNORES = {
    ".gitignore": "build/\n*.log.py\n/only_top.py\n",
    ".forecodeignore": "vendor/\ngenerated_*.py\n",
    "keep.py": "def kept_function():\n    pass\n",
    "build/out.py": "def built():\n    pass\n",
    "debug.log.py": "x = 1\n",
    "only_top.py": "x = 1\n",
    "sub/only_top.py": "def nested_top():\n    pass\n",
    "vendor/lib.py": "def vendored():\n    pass\n",
    "generated_api.py": "def generated():\n    pass\n",
    "sub/.gitignore": "local_*.py\n",
    "sub/local_cfg.py": "x = 1\n",
    "sub/real.py": "def real():\n    pass\n",
}
EXPECTED = ["keep.py", "sub/only_top.py", "sub/real.py"]


@pytest.mark.parametrize("in_git", [True, False], ids=["git", "folder"])
def test_gitignore_and_forecodeignore_are_respected(tmp_path: Path, in_git: bool) -> None:
    root = write(tmp_path / "ws", IGNORES)
    if in_git:
        git_init(root)
    files = WorkspaceFiles(root)
    assert files.in_git is in_git
    assert files.listing() == EXPECTED
    index = WorkspaceIndex.open(root, tmp_path / "cache")
    assert index.paths == EXPECTED
    assert index.files.is_ignored("build/new.py") and index.files.is_ignored("vendor/x.py")
    assert index.files.is_ignored("sub/local_new.py") and not index.files.is_ignored("sub/new.py")
    assert not index.update_document("vendor/lib.py", "def vendored():\n    pass\n")  # an editor opens it: still out


def test_a_folder_ignored_by_its_enclosing_repository_is_walked_as_a_folder(tmp_path: Path) -> None:
    write(tmp_path / "repo", {".gitignore": "tools/\n"})
    git_init(tmp_path / "repo")
    root = write(tmp_path / "repo" / "tools" / "ws", {"a.py": "x = 1\n"})
    files = WorkspaceFiles(root)
    assert not files.in_git and files.listing() == ["a.py"]


CASES = ["a.py", "build/x.py", "x/build/y.py", "build", "top.txt", "sub/top.txt", "keep.log", "a.log", "a/b", "a/x/y/b",
         "a/x/b/c.py", "doc/notes.md", "doc/sub/notes.md", "lit[1].py", "lit1.py", "sp ace.py", "deep/cache/z.py"]
PATTERNS = ["build/", "*.log", "!keep.log", "/top.txt", "a/**/b", "doc/*.md", "lit[0-9].py", "**/cache", "# comment", ""]


def test_the_fallback_matcher_agrees_with_pathspec() -> None:
    pathspec = pytest.importorskip("pathspec")
    reference = pathspec.GitIgnoreSpec.from_lines(PATTERNS)
    ours = GitignorePatterns(PATTERNS)
    for case in CASES:
        assert ours.match_file(case) == reference.match_file(case), case


@pytest.mark.parametrize("name", [".env", ".env.production", "prod.env", "server.pem", "tls.key", "id_rsa", "id_ed25519.pub",
                                  "credentials", "credentials.json", ".netrc", ".pypirc", "sub/.npmrc"])
def test_secret_file_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["credentials.py", "secrets.py", "postprocess/credentials.py", "env.py", "keys.py"])
def test_code_named_for_secrets_is_not_a_secrets_file(name: str) -> None:
    assert not is_secret_name(name)  # indexed, with any credential in it redacted


def test_secrets_keys_binaries_and_huge_files_are_never_indexed(tmp_path: Path) -> None:
    files = {
        "app.py": "def handler():\n    return 1\n",
        ".env": f"API_TOKEN={SECRET}\n",
        ".env.local": f"DB_PASSWORD={SECRET}\n",
        "deploy/server.pem": PRIVATE_KEY,
        "deploy/tls.key": PRIVATE_KEY,
        "home/id_rsa": PRIVATE_KEY,
        "config/credentials.py": f"PASSWORD = '{SECRET}'\n",
        ".netrc": f"machine example.com login me password {SECRET}\n",
        ".pypirc": f"[pypi]\npassword = {SECRET}\n",
        "keys.py": f'KEY = """\n{PRIVATE_KEY}"""\n',  # a private key inside source: the whole file stays out
        "settings.py": f'db_password = "{SECRET}"\n\ndef connect():\n    pass\n',  # a credential: redacted
    }
    root = write(tmp_path / "ws", files)
    (root / "blob.py").write_bytes(b"\x00\x01binary" * 10)
    (root / "huge.py").write_text("x = 1\n" * (MAX_FILE_BYTES // 6 + 10))
    git_init(root)
    cache = tmp_path / "cache"
    index = WorkspaceIndex.open(root, cache)
    assert index.paths == ["app.py", "config/credentials.py", "settings.py"]
    assert index.stats.refused == {"private key": 1, "binary": 1, "too large": 1}
    chunks = [c.text for c in index.chunks()]
    assert not any(SECRET in t or "PRIVATE KEY" in t or "unique0private" in t for t in chunks)
    assert "connect" in "".join(chunks)
    index.close()
    # nor in the cache on disk, raw or decompressed
    stored = b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())
    db = sqlite3.connect(cache / "index.sqlite")
    for blob, ids in db.execute("SELECT facts, ids FROM files WHERE facts IS NOT NULL"):
        stored += zlib.decompress(blob) + zlib.decompress(ids)
    db.close()
    assert SECRET.encode() not in stored and b"unique0private" not in stored and b"PRIVATE KEY" not in stored
    assert b"connect" in stored  # the decompressed rows were really searched


def test_an_editor_document_that_is_a_secret_is_not_taken(tmp_path: Path) -> None:
    root = write(tmp_path / "ws", {"app.py": "x = 1\n"})
    index = WorkspaceIndex.open(root, tmp_path / "cache")
    assert not index.update_document(".env", f"TOKEN={SECRET}\n")
    assert not index.update_document("notes.py", f'K = """\n{PRIVATE_KEY}"""\n')
    assert index.paths == ["app.py"]
    assert all(SECRET not in c.chunk.text for c in index.recent.chunks())
    assert index.retrieve("unique0private0key0body TOKEN", k=5) == []
