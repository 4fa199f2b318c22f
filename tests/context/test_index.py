"""The workspace index: BM25 over chunks, definitions through the import graph, recent
documents, incremental updates, and the cache that makes a restart cheap."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from context.workspace import PACKAGE, git_init, write

from forecode.context import search as search_module
from forecode.context.index import WorkspaceIndex
from forecode.context.retrieval import NoRetriever, Retriever, cursor_context
from forecode.errors import InputError

FILLER = {f"misc/module_{i}.py": f"def helper_{i}(value):\n    return value * {i}\n" for i in range(6)}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write(tmp_path / "ws", {**PACKAGE, **FILLER})


def _open(root: Path, tmp_path: Path) -> WorkspaceIndex:
    return WorkspaceIndex.open(root, tmp_path / "cache")


def test_bm25_returns_the_chunk_that_shares_identifiers_with_the_query(root: Path, tmp_path: Path) -> None:
    index = _open(root, tmp_path)
    hits = index.retrieve("rows = parse_invoice_line(text)\ncustomer = rows['customer']", k=3)
    assert hits and (hits[0].path, hits[0].start_line) == ("billing/parser.py", 8)
    assert hits[0].source == "bm25" and hits[0].score > 0 and "parse_invoice_line" in hits[0].text
    # the words of an identifier match too: `field` and `separator` find FIELD_SEPARATOR
    assert index.retrieve("separator of a field", k=1)[0].path == "billing/parser.py"


def test_bm25_leaves_out_the_window_around_the_cursor(root: Path, tmp_path: Path) -> None:
    index = _open(root, tmp_path)
    query = "parse_invoice_line FIELD_SEPARATOR customer amount"
    assert any(h.path == "billing/parser.py" and h.start_line == 8 for h in index.retrieve(query, k=5))
    hits = index.retrieve(query, k=5, exclude=("billing/parser.py", 9, 10))
    assert not any(h.path == "billing/parser.py" and h.start_line <= 10 and h.end_line >= 9 for h in hits)
    assert any(h.path == "billing/totals.py" for h in hits)  # other files still come back
    absolute = index.retrieve(query, k=5, exclude=(str(root / "billing/parser.py"), 9, 10))
    assert absolute == hits


def test_definitions_of_imported_names_come_with_signature_and_body(root: Path, tmp_path: Path) -> None:
    index = _open(root, tmp_path)
    document = (root / "billing/totals.py").read_text()
    found = index.definitions("    return sum(float(parse_invoice_line(line)", "billing/totals.py", (4, 5))
    assert found[0].source == "definition" and found[0].path == "billing/parser.py"
    assert found[0].text.startswith("def parse_invoice_line(line: str) -> dict[str, str]:")
    assert "line.split(FIELD_SEPARATOR)" in found[0].text and "imported from billing/parser.py" in found[0].why
    # `p.InvoiceReader` through `from . import parser as p`; a class shows its methods' signatures
    found = index.definitions("reader = p.InvoiceReader(", "billing/totals.py", (4, 5), document)
    assert found[0].path == "billing/parser.py" and found[0].text.startswith("class InvoiceReader:")
    assert "    def read_all(self): ..." in found[0].text
    # `from billing import InvoiceReader`: re-exported by billing/__init__.py, defined in billing/parser.py
    found = index.definitions("    reader = InvoiceReader(stream)", "app.py", (4, 6))
    assert [(s.path, s.start_line) for s in found] == [("billing/parser.py", 14)]


def test_snippets_at_a_cursor_combine_the_sources_and_keep_out_the_window(root: Path, tmp_path: Path) -> None:
    index = _open(root, tmp_path)
    retriever: Retriever = index
    document = (root / "app.py").read_text()
    cursor = document.index("reader.read_all()")
    snippets = retriever.snippets_at(document, cursor, "app.py", k=3)
    sources = [s.source for s in snippets]
    assert sources[0] == "definition" and "bm25" in sources
    assert not any(s.path == "app.py" for s in snippets)  # the whole file is in the window
    assert snippets == [s for s in snippets if s.source in ("definition", "bm25", "recent")]
    only_bm25 = index.snippets_at(document, cursor, "app.py", k=3, sources=("bm25",))
    assert only_bm25 and {s.source for s in only_bm25} == {"bm25"}
    assert NoRetriever().snippets_at(document, cursor, "app.py") == []
    with pytest.raises(InputError, match="outside the document"):
        index.snippets_at(document, len(document) + 1, "app.py")


def test_the_query_is_the_code_around_the_cursor() -> None:
    document = "".join(f"line_{i}\n" for i in range(1, 101))
    cursor = document.index("line_50")
    ctx = cursor_context(document, cursor, prefix_lines=3, suffix_lines=2)
    assert ctx.line == 50 and ctx.query == "line_48\nline_49\nline_50\nline_51"
    assert ctx.window == (48, 51)


def test_import_graph_resolves_workspace_imports(root: Path, tmp_path: Path) -> None:
    graph = _open(root, tmp_path).import_graph()
    assert graph["app.py"] == ["billing/__init__.py", "billing/totals.py"]
    assert graph["billing/totals.py"] == ["billing/parser.py"]
    assert graph["billing/__init__.py"] == ["billing/parser.py"]


def test_an_edited_file_is_retrievable_with_its_new_content_and_a_deleted_one_is_gone(root: Path, tmp_path: Path) -> None:
    index = _open(root, tmp_path)
    rebuilds = index.search.rebuilds
    target = root / "misc/module_3.py"
    target.write_text("def reconcile_ledger_entries(ledger):\n    return sorted(ledger)\n")
    assert index.update_file("misc/module_3.py")
    assert index.search.rebuilds == rebuilds  # the overlay took it: no rebuild of the whole index
    hits = index.retrieve("reconcile_ledger_entries", k=3)
    assert hits and hits[0].path == "misc/module_3.py"
    assert not any("helper_3" in h.text for h in index.retrieve("helper_3", k=10))
    assert index.lookup("reconcile_ledger_entries")[0].path == "misc/module_3.py" and index.lookup("helper_3") == []
    target.unlink()
    assert not index.update_file(target)
    assert "misc/module_3.py" not in index.paths
    assert index.retrieve("reconcile_ledger_entries", k=3) == []
    index.remove_file("misc/module_4.py")
    assert not any(h.path == "misc/module_4.py" for h in index.retrieve("helper_4", k=10))


def test_a_query_past_the_postings_cap_scores_its_rarest_tokens_only(root: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    index = _open(root, tmp_path)
    monkeypatch.setattr(search_module, "COMMON_MIN_CHUNKS", 100)  # keep `value` (in every filler module) in the query
    query = "parse_invoice_line(value)\nreturn value"
    everything = index.retrieve(query, k=5)
    assert any("invoice" not in h.text for h in everything)
    monkeypatch.setattr(search_module, "MAX_POSTINGS", 1)
    rarest = index.retrieve(query, k=5)
    assert "billing/parser.py" in {h.path for h in rarest}
    assert all("invoice" in h.text for h in rarest)  # the chunks that only share `value` are not scored


def test_the_overlay_past_its_limit_rebuilds_once(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _open(root, tmp_path)
    monkeypatch.setattr(search_module, "OVERLAY_LIMIT", 1)
    for i in range(3):
        index.update_document(f"misc/module_{i}.py", f"def renamed_{i}():\n    return {i}\n")
    rebuilds = index.search.rebuilds
    assert index.retrieve("renamed_2", k=1)[0].path == "misc/module_2.py"
    assert index.search.rebuilds == rebuilds + 1 and index.search.overlay_size == 0
    assert index.retrieve("renamed_1", k=1)[0].path == "misc/module_1.py"
    assert index.search.rebuilds == rebuilds + 1


def test_editor_documents_replace_the_file_and_join_the_recent_ring(root: Path, tmp_path: Path) -> None:
    index = _open(root, tmp_path)
    assert index.update_document(str(root / "billing/totals.py"), "def unsaved_discount_rule(order):\n    return order\n")
    assert index.retrieve("unsaved_discount_rule", k=1)[0].path == "billing/totals.py"
    assert index.recent.paths() == ["billing/totals.py"]
    index.note_recent("misc/module_1.py")
    assert index.recent.paths() == ["misc/module_1.py", "billing/totals.py"]
    found = index.recent_snippets("value helper_1", "app.py", (1, 5))
    assert found and found[0].source == "recent" and found[0].path == "misc/module_1.py"
    # a document outside the root is only recent, never indexed
    assert index.update_document(tmp_path / "elsewhere.py", "def outside_helper():\n    pass\n")
    assert index.recent_snippets("outside_helper", "app.py", (1, 5))[0].path.endswith("elsewhere.py")
    assert not any("elsewhere" in h.path for h in index.retrieve("outside_helper", k=20))
    # the editor's text is not written to the cache: a restart sees the disk, even when the
    # stored BM25 index was built with the editor's text in it
    index.search.rebuild()
    index.close()
    again = _open(root, tmp_path)
    assert not any("unsaved_discount_rule" in h.text for h in again.retrieve("unsaved_discount_rule", k=20))
    assert again.retrieve("total_amount", k=1)[0].path == "billing/totals.py"


def test_a_second_open_reads_from_the_cache_and_rereads_only_the_changed_file(root: Path, tmp_path: Path) -> None:
    git_init(root)
    first = _open(root, tmp_path)
    assert first.stats.parsed == len(first.paths) == 10 and first.stats.cached == 0
    first.close()
    target = root / "misc/module_2.py"
    target.write_text("def freshly_changed():\n    return 2\n")
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))
    (root / "misc/module_5.py").unlink()
    second = _open(root, tmp_path)
    assert (second.stats.read, second.stats.parsed, second.stats.cached, second.stats.removed) == (1, 1, 8, 1)
    assert second.search.rebuilds == 0  # the stored BM25 index was taken, the changed file overlaid
    assert second.retrieve("freshly_changed", k=1)[0].path == "misc/module_2.py"
    assert not any("helper_2" in h.text or "helper_5" in h.text for h in second.retrieve("helper_2 helper_5", k=10))
    assert second.retrieve("FIELD_SEPARATOR", k=1)[0].path == "billing/parser.py"  # chunks from the cache
    assert second.definitions("parse_invoice_line(", "billing/totals.py")[0].path == "billing/parser.py"
    assert "misc/module_5.py" not in second.paths
    second.close()
    third = _open(root, tmp_path)
    assert (third.stats.read, third.stats.cached) == (0, 9)


def test_a_touched_but_unchanged_file_is_read_but_not_parsed(root: Path, tmp_path: Path) -> None:
    _open(root, tmp_path).close()
    target = root / "app.py"
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))
    again = _open(root, tmp_path)
    assert (again.stats.read, again.stats.parsed) == (1, 0)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "old format", "bad row"])
def test_a_corrupt_or_old_cache_is_rebuilt_with_a_log_line(root: Path, tmp_path: Path, damage: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    _open(root, tmp_path).close()
    db = tmp_path / "cache" / "index.sqlite"
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[:3000])
    else:
        import sqlite3

        conn = sqlite3.connect(db)
        if damage == "old format":
            conn.execute("UPDATE meta SET value = '0' WHERE key = 'format'")
        else:
            conn.execute("UPDATE files SET facts = x'00ff' WHERE path = 'app.py'")
        conn.commit()
        conn.close()
    with caplog.at_level(logging.WARNING, logger="forecode.context"):
        index = _open(root, tmp_path)
    assert any("cache" in r.getMessage() for r in caplog.records)
    assert index.paths and index.retrieve("FIELD_SEPARATOR", k=1)[0].path == "billing/parser.py"
    assert index.retrieve("reader read_all", k=1)[0].path in ("app.py", "billing/parser.py")
    expected_parsed = 1 if damage == "bad row" else len(index.paths)
    assert index.stats.parsed == expected_parsed
    index.close()
    assert _open(root, tmp_path).stats.parsed == 0  # and the rebuilt cache works


def test_a_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        WorkspaceIndex.open(tmp_path / "nope", tmp_path / "cache")


def test_the_same_document_text_again_is_not_indexed_again(tmp_path: Path) -> None:
    root = write(tmp_path / "ws", PACKAGE)
    index = WorkspaceIndex.open(root, tmp_path / "cache")
    path = sorted(PACKAGE)[0]
    text = "def zebra_unicorn():\n    return 1\n"
    assert index.update_document(root / path, text)
    before = [c.text for c in index.chunks(path)]
    entry = index._entries[path]
    assert index.update_document(root / path, text)  # what every HTTP request does
    assert index._entries[path] is entry and [c.text for c in index.chunks(path)] == before
    assert index.update_document(root / path, text.replace("zebra", "okapi"))  # an edit is indexed
    assert index._entries[path] is not entry
    assert any("okapi_unicorn" in c.text for c in index.chunks(path))
    assert not any("zebra_unicorn" in c.text for c in index.chunks(path))
    index.close()
