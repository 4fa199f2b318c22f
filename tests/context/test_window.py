"""Prefix and suffix windows: within budget, whole lines, the lines nearest the cursor."""

from __future__ import annotations

import pytest
from context.counting import CountingTokenizer

from forecode.context.window import PREFIX_SNAP_LINES, build_window, shrink_window
from forecode.tokenizer import CodeTokenizer

LINES = [f"value_{i:03d} = compute({i}, name='item')\n" for i in range(120)]
TEXT = "".join(LINES)
CURSOR = TEXT.index("value_060 = ") + len("value_060 = ")  # inside line 60


@pytest.mark.parametrize("budget", [60, 120, 400])
def test_window_fits_budget_and_keeps_whole_lines_nearest_the_cursor(tiny_tokenizer: CodeTokenizer, budget: int) -> None:
    w = build_window(TEXT, CURSOR, tiny_tokenizer, budget)
    prefix, suffix = TEXT[:CURSOR], TEXT[CURSOR:]
    assert len(w.prefix_ids) + len(w.suffix_ids) <= budget
    assert len(w.suffix_ids) <= int(budget * 0.25)
    assert w.prefix_ids == tiny_tokenizer.encode(w.prefix)
    assert w.suffix_ids == tiny_tokenizer.encode(w.suffix)
    # nearest the cursor: the prefix window ends at the cursor, the suffix window starts there
    assert prefix.endswith(w.prefix) and suffix.startswith(w.suffix)
    # cut at line boundaries, unless the cursor's line alone does not fit
    assert w.prefix == prefix or prefix[: len(prefix) - len(w.prefix)].endswith("\n")
    rest_of_line = suffix[: suffix.index("\n") + 1]
    if len(tiny_tokenizer.encode(rest_of_line)) <= int(budget * 0.25):
        assert w.suffix == suffix or w.suffix.endswith("\n")
    else:
        assert rest_of_line.startswith(w.suffix) and w.suffix_truncated
    # the cursor's own line is kept: the prefix starts no later than its line start
    assert w.prefix.startswith("value_060 = ") or "value_059" in w.prefix
    # as much as fits from a line numbered a multiple of PREFIX_SNAP_LINES: the lines back to the
    # one before would not fit (or, where fewer lines fit than a snap drops, one more line would not)
    if w.prefix_truncated:
        assert w.prefix_line == prefix[: len(prefix) - len(w.prefix)].count("\n")
        dropped = prefix[: len(prefix) - len(w.prefix)].splitlines(keepends=True)
        back = dropped[-PREFIX_SNAP_LINES:] if w.prefix_line % PREFIX_SNAP_LINES == 0 else dropped[-1:]
        assert len(w.prefix_ids) + len(tiny_tokenizer.encode("".join(back))) + len(w.suffix_ids) > budget
    assert w.prefix_truncated == (w.prefix != prefix)
    assert w.suffix_truncated == (w.suffix != suffix)


def test_small_budget_truncates_both_sides(tiny_tokenizer: CodeTokenizer) -> None:
    w = build_window(TEXT, CURSOR, tiny_tokenizer, 60)
    assert w.prefix_truncated and w.suffix_truncated
    assert "value_000" not in w.prefix and "value_119" not in w.suffix
    assert w.suffix.startswith("compute(60")


def test_large_budget_keeps_everything(tiny_tokenizer: CodeTokenizer) -> None:
    w = build_window(TEXT, CURSOR, tiny_tokenizer, 100_000)
    assert (w.prefix, w.suffix) == (TEXT[:CURSOR], TEXT[CURSOR:])
    assert not w.prefix_truncated and not w.suffix_truncated


def test_suffix_gets_its_share_and_prefix_the_rest(tiny_tokenizer: CodeTokenizer) -> None:
    """With little text after the cursor, the prefix may use what the suffix leaves."""
    short_suffix_cursor = TEXT.index("value_118")
    w = build_window(TEXT, short_suffix_cursor, tiny_tokenizer, 200)
    assert not w.suffix_truncated
    assert len(w.prefix_ids) > 200 * 0.75 - len(tiny_tokenizer.encode(LINES[0]))


def test_one_very_long_line_is_cut_mid_line(tiny_tokenizer: CodeTokenizer) -> None:
    line = "data = [" + ", ".join(str(i) for i in range(400)) + "]"
    text = "import os\n" + line + "\n"
    cursor = text.index("]")
    w = build_window(text, cursor, tiny_tokenizer, 40)
    assert 0 < len(w.prefix_ids) <= 40 - len(w.suffix_ids)
    assert w.prefix_truncated
    assert text[:cursor].endswith(w.prefix)  # the end of the line, just before the cursor
    assert w.prefix.endswith("398, 399")
    assert "data = [" not in w.prefix


def test_one_very_long_suffix_line_is_cut_mid_line(tiny_tokenizer: CodeTokenizer) -> None:
    text = "x = [" + ", ".join(str(i) for i in range(400)) + "]\n"
    w = build_window(text, len("x = ["), tiny_tokenizer, 40)
    assert 0 < len(w.suffix_ids) <= 10
    assert w.suffix_truncated
    assert w.suffix.startswith("0, 1")


def test_cursor_at_either_end(tiny_tokenizer: CodeTokenizer) -> None:
    start = build_window(TEXT, 0, tiny_tokenizer, 60)
    assert start.prefix == "" and start.prefix_ids == [] and not start.prefix_truncated
    end = build_window(TEXT, len(TEXT), tiny_tokenizer, 60)
    assert end.suffix == "" and end.suffix_ids == [] and not end.suffix_truncated
    assert end.prefix.endswith(LINES[-1]) and len(end.prefix_ids) <= 60


def test_zero_budget_keeps_nothing(tiny_tokenizer: CodeTokenizer) -> None:
    w = build_window("x = 1\ny = 2", 8, tiny_tokenizer, 0)
    assert w.prefix_ids == [] and w.suffix_ids == []
    assert w.prefix_truncated and w.suffix_truncated


def _typing(text: str, cursor: int, typed: str) -> list[tuple[str, int]]:
    """(document, cursor) after each character of `typed`, typed at `cursor`."""
    return [(text[:cursor] + typed[:i] + text[cursor:], cursor + i) for i in range(1, len(typed) + 1)]


def test_typing_at_the_cursor_moves_the_prefix_start_rarely(tiny_tokenizer: CodeTokenizer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Typing three lines moves the prefix window's first line at most across one multiple of
    PREFIX_SNAP_LINES, where a tight cut moves it line by line; and the window always begins at
    such a line, so the prompt's start stays the same keystroke after keystroke."""
    cursor = TEXT.index("value_100")
    typed = "result = [compute(i) for i in range(10)]\nprint(result, sep='')\ntotal = sum(result)\n"

    def starts() -> list[int]:
        out = []
        for doc, c in _typing(TEXT, cursor, typed):
            w = build_window(doc, c, tiny_tokenizer, 400)
            assert w.prefix_truncated and doc[:c].endswith(w.prefix)
            assert w.prefix_line == doc[: c - len(w.prefix)].count("\n")
            out.append(w.prefix_line)
        return out

    snapped = starts()
    assert all(line % PREFIX_SNAP_LINES == 0 for line in snapped)
    assert len(set(snapped)) <= 2
    assert sum(a != b for a, b in zip(snapped, snapped[1:])) <= 2  # a wavering token count may switch back once
    monkeypatch.setattr("forecode.context.window.PREFIX_SNAP_LINES", 1)
    tight = starts()
    assert len(set(tight)) >= 3  # what the snap avoids


def test_a_shrunk_window_is_cut_tightly_and_keeps_the_document_line_numbers(tiny_tokenizer: CodeTokenizer) -> None:
    """Shrinking (for retrieval's snippets) does not snap: prompt assembly promises the prefix a
    share of the budget, which dropping lines for a snap could break."""
    full = build_window(TEXT, CURSOR, tiny_tokenizer, 400)
    assert full.prefix_line % PREFIX_SNAP_LINES == 0
    for budget in (150, 200, 250):
        small = shrink_window(full, tiny_tokenizer, budget)
        assert small.prefix_line == TEXT[: CURSOR - len(small.prefix)].count("\n") > full.prefix_line
        assert small.prefix_ids == tiny_tokenizer.encode(small.prefix)
        one_more = TEXT[: CURSOR - len(small.prefix)].splitlines(keepends=True)[-1]
        assert len(small.prefix_ids) + len(tiny_tokenizer.encode(one_more)) + len(small.suffix_ids) > budget


def test_shrinking_reuses_the_lines_ids_and_tokenizes_nothing(tiny_tokenizer: CodeTokenizer) -> None:
    """forecode's tokenizer keeps newlines apart, so a window's ids are its lines' ids joined:
    shrinking it cuts by those and calls the tokenizer not once, with the same ids as tokenizing."""
    full = build_window(TEXT, CURSOR, tiny_tokenizer, 400)
    counting = CountingTokenizer(tiny_tokenizer)
    for budget in (350, 200, 60):
        small = shrink_window(full, counting, budget)
        assert counting.seen == []
        assert small.prefix_ids == tiny_tokenizer.encode(small.prefix) and small.suffix_ids == tiny_tokenizer.encode(small.suffix)
        assert small == shrink_window(full, tiny_tokenizer, budget) and len(small.prefix_ids) < len(full.prefix_ids)
