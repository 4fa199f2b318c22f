"""pass@k, exact match and edit similarity against values worked out by hand."""

from __future__ import annotations

import itertools
import math

import pytest

from forecode.eval.metrics import edit_similarity, exact_match, pass_at_k


@pytest.mark.parametrize(("n", "c", "k"), [(10, 3, 1), (10, 3, 5), (5, 0, 2), (5, 5, 3), (20, 1, 10), (7, 2, 7)])
def test_pass_at_k_is_the_chance_that_one_of_k_drawn_passes(n: int, c: int, k: int) -> None:
    # Enumerate every k-subset of n samples, c of them correct.
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(any(i < c for i in s) for s in subsets)
    assert math.isclose(pass_at_k(n, c, k), hits / len(subsets), rel_tol=1e-12)


def test_pass_at_1_is_the_pass_rate() -> None:
    assert pass_at_k(10, 4, 1) == pytest.approx(0.4)


def test_pass_at_k_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="c=6"):
        pass_at_k(5, 6, 1)


def test_exact_match_ignores_whitespace_between_tokens_only() -> None:
    assert exact_match("return  x +1 ", "return x +1")
    assert not exact_match("return x+1", "return x + 1")
    assert not exact_match("", "x")


def test_edit_similarity_is_a_percentage() -> None:
    assert edit_similarity("abc", "abc") == 100.0
    assert edit_similarity("", "abc") == 0.0
    # One substitution in four characters: Indel distance 2 over 8 characters.
    assert edit_similarity("abcd", "abxd") == pytest.approx(75.0)
