"""The FIM layout shared by training and inference."""

from __future__ import annotations

import pytest

from forecode.tokenizer.fim import fim_prompt, fim_sequence
from forecode.tokenizer.special import SpecialTokens

SP = SpecialTokens(eot=0, fim_prefix=1, fim_suffix=2, fim_middle=3, file_sep=4)
P, M, S = [10, 11], [20], [30, 31, 32]


def test_psm_layout() -> None:
    assert fim_prompt(P, S, SP, "psm") == [1, 10, 11, 2, 30, 31, 32, 3]
    assert fim_sequence(P, M, S, SP, "psm") == [1, 10, 11, 2, 30, 31, 32, 3, 20, 0]


def test_spm_layout_runs_the_prefix_into_the_middle() -> None:
    assert fim_prompt(P, S, SP, "spm") == [1, 2, 30, 31, 32, 3, 10, 11]
    assert fim_sequence(P, M, S, SP, "spm") == [1, 2, 30, 31, 32, 3, 10, 11, 20, 0]


def test_default_order_is_psm() -> None:
    assert fim_prompt(P, S, SP) == fim_prompt(P, S, SP, "psm")


def test_empty_parts() -> None:
    assert fim_sequence([], [], [], SP, "psm") == [1, 2, 3, 0]
    assert fim_sequence([], [], [], SP, "spm") == [1, 2, 3, 0]


def test_unknown_order_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown FIM order 'msp'"):
        fim_prompt(P, S, SP, "msp")  # type: ignore[arg-type]
