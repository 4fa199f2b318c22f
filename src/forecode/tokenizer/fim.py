"""The FIM layout: the one place that knows how prefix, suffix and middle are arranged.

PSM: <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle <endoftext>
SPM: <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle <endoftext>
     (the variant of Bavarian et al. 2022, where the prefix runs straight into the middle)

Training writes sequences this way; inference builds the same prompt and generates the middle.
"""

from __future__ import annotations

from typing import Literal

from forecode.tokenizer.special import SpecialTokens

FimOrder = Literal["psm", "spm"]


def fim_sequence(
    prefix: list[int], middle: list[int], suffix: list[int], special: SpecialTokens, order: FimOrder = "psm"
) -> list[int]:
    """A whole training example: the prompt, the middle and the end-of-text token."""
    return [*fim_prompt(prefix, suffix, special, order), *middle, special.eot]


def fim_prompt(prefix: list[int], suffix: list[int], special: SpecialTokens, order: FimOrder = "psm") -> list[int]:
    """What the model sees before it writes the middle."""
    if order == "psm":
        return [special.fim_prefix, *prefix, special.fim_suffix, *suffix, special.fim_middle]
    if order == "spm":
        return [special.fim_prefix, special.fim_suffix, *suffix, special.fim_middle, *prefix]
    raise ValueError(f"unknown FIM order {order!r}; expected 'psm' or 'spm'")
