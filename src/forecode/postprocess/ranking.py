"""Ranking k candidates for one cursor: the best first, the rest in order.

Score = mean token log-probability (length-normalised, so short and long suggestions compare)
      + AGREEMENT x the share of the other candidates whose first line is the same
      - SYNTAX_PENALTY when the raw candidate added parse errors (the pipeline had to cut it)
Identical texts are merged (their agreement counts once per copy). Dropped (empty) candidates
go last. Ties keep generation order, so the greedy candidate, generated first, wins them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from forecode.postprocess.candidate import Candidate

AGREEMENT = 1.0
SYNTAX_PENALTY = 0.5


@dataclass(frozen=True)
class Scored:
    index: int  # generation order
    candidate: Candidate
    mean_logprob: float
    agreement: float  # 0..1
    syntax_cut: bool
    score: float


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()


def rank(candidates: list[Candidate], mean_logprobs: list[float]) -> list[Scored]:
    """Candidates (after the pipeline) with their mean token log-probabilities, best first."""
    firsts = Counter(_first_line(c.text) for c in candidates if c.text.strip())
    others = max(1, len(candidates) - 1)
    scored: list[Scored] = []
    for i, (c, lp) in enumerate(zip(candidates, mean_logprobs)):
        if not c.text.strip():
            scored.append(Scored(i, c, lp, 0.0, False, float("-inf")))
            continue
        agreement = (firsts[_first_line(c.text)] - 1) / others
        syntax_cut = any(ch.filter == "syntax" for ch in c.changes)
        score = lp + AGREEMENT * agreement - (SYNTAX_PENALTY if syntax_cut else 0.0)
        scored.append(Scored(i, c, lp, agreement, syntax_cut, score))
    return sorted(scored, key=lambda s: (-s.score, s.index))


def distinct(scored: list[Scored]) -> list[Scored]:
    """The first of each text, in rank order."""
    seen: set[str] = set()
    out = []
    for s in scored:
        if s.candidate.text not in seen:
            seen.add(s.candidate.text)
            out.append(s)
    return out
