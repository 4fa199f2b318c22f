"""The shared budget: prefix first, then suffix, then snippets, and the window's line span."""

from __future__ import annotations

import inspect

import pytest
from context.counting import CountingTokenizer

import forecode.context.window as window_module
from forecode.context.assembly import _RUNS, MIN_TOKEN_SHARE, PREFIX_FLOOR_SHARE, SNIPPET_SHARE, assemble, window_lines
from forecode.context.retrieval import Snippet, SnippetSelection
from forecode.context.window import build_window, shrink_window
from forecode.tokenizer import CodeTokenizer

TEXT = "".join(f"value_{i} = compute(value_{i - 1})\n" for i in range(1, 200))


def _snippet(i: int, lines: int = 3) -> Snippet:
    text = "\n".join(f"def helper_{i}_{n}(x):  return x + {n}" for n in range(lines))
    return Snippet(f"lib/helpers_{i}.py", 1, lines, text, 1.0, "bm25", "test")


def test_no_retrieval_is_the_plain_window(tiny_tokenizer: CodeTokenizer) -> None:
    cursor = TEXT.index("value_150 =")
    ctx = assemble(TEXT, cursor, tiny_tokenizer, 300)
    assert ctx.window == build_window(TEXT, cursor, tiny_tokenizer, 300) and ctx.files == [] and ctx.lines is None


def test_snippets_take_at_most_their_share_and_the_prefix_keeps_its_floor(tiny_tokenizer: CodeTokenizer) -> None:
    cursor = TEXT.index("value_150 =")
    asked: list[tuple[int, int]] = []

    def select(lines: tuple[int, int]) -> SnippetSelection:
        asked.append(lines)
        return SnippetSelection([_snippet(i, 1) for i in range(30)], [(_snippet(99), "overlap")])

    budget = 600
    ctx = assemble(TEXT, cursor, tiny_tokenizer, budget, select, "main.py")
    full = build_window(TEXT, cursor, tiny_tokenizer, budget)
    assert asked == [window_lines(TEXT, cursor, full)]
    assert ctx.files and ctx.snippet_tokens <= budget * SNIPPET_SHARE
    assert len(ctx.window.prefix_ids) >= budget * PREFIX_FLOOR_SHARE
    assert len(ctx.window.prefix_ids) + len(ctx.window.suffix_ids) + ctx.snippet_tokens <= budget
    reasons = [why for _, why in ctx.dropped]
    assert reasons[0] == "overlap" and "budget" in reasons
    assert len(ctx.files) + reasons.count("budget") == 30  # each snippet is used or dropped for the budget


def test_a_short_file_keeps_all_of_itself_beside_the_snippets(tiny_tokenizer: CodeTokenizer) -> None:
    text = "x = compute(1)\n"
    ctx = assemble(text, len(text), tiny_tokenizer, 600, lambda _: SnippetSelection([_snippet(i, 1) for i in range(3)], []), "m.py")
    assert [f.snippet.path for f in ctx.files] == [f"lib/helpers_{i}.py" for i in range(3)]
    assert ctx.window == build_window(text, len(text), tiny_tokenizer, 600)  # the file itself loses nothing


def test_window_lines() -> None:
    text = "a\nb\nc\nd\ne\n"
    window = build_window(text, text.index("c"), _WholeLines(), 100)
    assert window_lines(text, text.index("c"), window) == (1, 6)


class _WholeLines:
    """Enough of a tokenizer for build_window: one token per character."""

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: list[int]) -> str:
        return "".join(map(chr, ids))


def test_shrinking_a_window_cuts_as_building_it_at_the_smaller_budget(tiny_tokenizer: CodeTokenizer,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("forecode.context.window.PREFIX_SNAP_LINES", 1)  # shrinking cuts tightly (no snap)
    for cursor in (0, TEXT.index("value_10 ="), TEXT.index("value_150 = c") + 5, len(TEXT)):
        full = build_window(TEXT, cursor, tiny_tokenizer, 500)
        for budget in (400, 250, 100, 7):
            assert shrink_window(full, tiny_tokenizer, budget) == build_window(TEXT, cursor, tiny_tokenizer, budget), (cursor, budget)


def test_a_text_has_at_least_as_many_tokens_as_runs_of_words_and_punctuation(tiny_tokenizer: CodeTokenizer) -> None:
    """What lets prompt assembly leave a snippet untokenized: forecode's tokens never span a
    word and the punctuation or newline beside it, so counting those runs bounds the tokens."""
    for text in (inspect.getsource(window_module), TEXT, "x=(a+b)*c//d\n\n\tif x: return {'k': [1, 2]}\n", "é😀 中文 x_y"):
        runs = len(_RUNS.findall(text))
        assert len(tiny_tokenizer.encode(text)) >= runs
    assert MIN_TOKEN_SHARE >= 1.0


def test_a_snippet_with_more_runs_than_the_room_is_left_out_untokenized(tiny_tokenizer: CodeTokenizer) -> None:
    cursor = TEXT.index("value_150 =")
    dense = Snippet("lib/dense.py", 1, 1, "(" + ",".join("a" * 3 for _ in range(400)) + ")", 1.0, "bm25", "test")
    small = _snippet(1, 1)
    counting = CountingTokenizer(tiny_tokenizer)
    ctx = assemble(TEXT, cursor, counting, 600, lambda _: SnippetSelection([dense, small], []), "main.py")
    assert [f.snippet for f in ctx.files] == [small] and (dense, "budget") in ctx.dropped
    assert not any("aaa,aaa" in t for t in counting.seen)  # 1,601 characters, under the length test's 10 per token of room
