"""Scores: unbiased pass@k (Chen et al. 2021) and CodeXGLUE's line-level exact match and edit similarity."""

from __future__ import annotations

import math

from rapidfuzz import fuzz


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) passes."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def exact_match(prediction: str, reference: str) -> bool:
    """Equal up to whitespace between tokens, as CodeXGLUE's line-level scorer compares them."""
    return prediction.split() == reference.split()


def edit_similarity(prediction: str, reference: str) -> float:
    """Levenshtein similarity in percent (CodeXGLUE uses fuzzywuzzy's ratio, the same measure)."""
    return float(fuzz.ratio(prediction.strip(), reference.strip()))
