"""Tiny models for engine, completer and CLI tests: one with random weights, one that has
memorised a short function so its greedy completions are known in advance.

Shared by tests/engine, tests/test_completer.py and tests/cli/test_complete.py; built once per
session (cached here, keyed by the tokenizer file).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import torch

from forecode.model.config import PRESETS
from forecode.model.llama import Llama
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import fim_prompt
from forecode.tokenizer.healing import TokenHealer

MEMORISED = (
    "def greet(name):\n"
    '    message = "hello, " + name\n'
    "    return message.upper()\n"
)
# The line the memorised model completes, and the cursors (code-point offsets) it was taught.
LINE_START = MEMORISED.index("    message")
LINE_END = MEMORISED.index("\n", LINE_START)
CURSORS = tuple(range(MEMORISED.index("message"), LINE_END, 3))


def document_at(cursor: int) -> tuple[str, str]:
    """The document an editor holds when the user has typed MEMORISED up to `cursor` on the
    taught line (the rest of that line not yet written), and the rest of the line."""
    return MEMORISED[:cursor] + MEMORISED[LINE_END:], MEMORISED[cursor:LINE_END]


def taught_example(tokenizer: CodeTokenizer, cursor: int) -> tuple[list[int], bytes, list[int]]:
    """(prompt ids, forced prefix, target ids ending in end-of-text) for one cursor, laid out as
    the completer lays out its prompt: PSM, the prefix healed."""
    doc, rest = document_at(cursor)
    prefix, suffix = doc[:cursor], doc[cursor:]
    healed = TokenHealer(tokenizer).heal(tokenizer.encode(prefix))
    prompt = fim_prompt(healed.ids, tokenizer.encode(suffix), tokenizer.special)
    target = tokenizer.encode(healed.backed_off.decode() + rest) + [tokenizer.special.eot]
    return prompt, healed.backed_off, target


def new_model(tokenizer: CodeTokenizer, seed: int = 0) -> Llama:
    torch.manual_seed(seed)
    return Llama(replace(PRESETS["test"], vocab_size=tokenizer.vocab_size)).eval()


@functools.cache
def random_model(tokenizer_path: Path) -> Llama:
    return new_model(CodeTokenizer.from_file(tokenizer_path), seed=1234)


@functools.cache
def memorised_model(tokenizer_path: Path) -> Llama:
    """A model trained (a few hundred AdamW steps) to write the rest of MEMORISED's second line,
    then end-of-text, from any of CURSORS."""
    tokenizer = CodeTokenizer.from_file(tokenizer_path)
    examples = [taught_example(tokenizer, c) for c in CURSORS]
    T = max(len(p) + len(t) for p, _, t in examples)
    x = torch.zeros(len(examples), T, dtype=torch.long)
    y = torch.full((len(examples), T), -100, dtype=torch.long)  # loss on the target only
    for row, (prompt, _, target) in enumerate(examples):
        seq = prompt + target
        x[row, : len(seq)] = torch.tensor(seq)
        y[row, len(prompt) - 1 : len(seq) - 1] = torch.tensor(target)
    model = new_model(tokenizer, seed=0).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # far faster than several threads for a model this small on busy cores
    try:
        for _ in range(400):
            logits = model(x)  # (B, T, vocab)
            loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if loss.item() < 0.01:  # about 80 steps, 2 s
                break
    finally:
        torch.set_num_threads(threads)
    return model.eval()
