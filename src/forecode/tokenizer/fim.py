"""The FIM layout: the one place that knows how prefix, suffix and middle are arranged.

PSM: <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle <endoftext>
SPM: <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle <endoftext>
     (the variant of Bavarian et al. 2022, where the prefix runs straight into the middle)

Repository-level (the StarCoder2 / Qwen2.5-Coder layout): other files of the repository first,
each as <file_sep> path "\n" text, then <file_sep> path "\n" of the current file and its FIM
arrangement, in either order:

    <file_sep> a.py\n text of a.py <file_sep> b.py\n <fim_prefix> prefix <fim_suffix> ...

Training writes sequences this way; inference builds the same prompt and generates the middle.
With no other file, the prompt is the plain one above (no separator, no path).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def file_text(path: str, text: str) -> str:
    """What follows a file separator for a context file: its path, a newline, and its text,
    ending in a newline so that the next separator starts a line."""
    return f"{path}\n{text}" if not text or text.endswith("\n") else f"{path}\n{text}\n"


def file_header(path: str) -> str:
    """What follows the current file's separator, before its FIM arrangement."""
    return f"{path}\n"


def repo_fim_prompt(
    files: Sequence[list[int]], header: list[int], prefix: list[int], suffix: list[int], special: SpecialTokens,
    order: FimOrder = "psm",
) -> list[int]:
    """The repository-level prompt: each of `files` (the ids of a `file_text`) after a file
    separator, then the current file's separator, `header` (the ids of its `file_header`) and
    its FIM prompt. With no `files` it is exactly `fim_prompt`."""
    if not files:
        return fim_prompt(prefix, suffix, special, order)
    context = [t for ids in files for t in (special.file_sep, *ids)]
    return [*context, special.file_sep, *header, *fim_prompt(prefix, suffix, special, order)]
