"""Prefix and suffix windows: within budget, whole lines, the lines nearest the cursor."""

from __future__ import annotations

import pytest

from forecode.context.window import build_window
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
    # as much as fits: one more line would not
    if w.prefix_truncated:
        dropped = prefix[: len(prefix) - len(w.prefix)].splitlines(keepends=True)[-1]
        assert len(w.prefix_ids) + len(tiny_tokenizer.encode(dropped)) + len(w.suffix_ids) > budget
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
