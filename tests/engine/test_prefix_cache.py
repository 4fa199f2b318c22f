"""The built-in engine's prefix cache: a prompt that shares its start with a recent one prefills
only the rest, and generates exactly what a cold engine generates."""

from __future__ import annotations

import json.decoder
import threading
from pathlib import Path

import pytest
import torch

from forecode.completer import Completer
from forecode.engine.base import Generation, GenerationRequest
from forecode.engine.builtin import BuiltinEngine
from forecode.engine.prefix_cache import MIN_REUSE_TOKENS, CachedSequence, PrefixCache, common_prefix_length
from forecode.errors import InputError
from forecode.model.llama import KVCache
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import FimOrder

from .tiny_models import random_model

DECODER = Path(json.decoder.__file__).read_text()  # real code from the standard library


@pytest.fixture
def code(tiny_tokenizer: CodeTokenizer) -> list[int]:
    return tiny_tokenizer.encode(DECODER)


def engines(tokenizer_path: Path, tokenizer: CodeTokenizer, order: FimOrder = "psm") -> tuple[BuiltinEngine, BuiltinEngine]:
    """(warm, cold): the same model with and without the prefix cache, neither with lookup."""
    model = random_model(tokenizer_path)
    return (BuiltinEngine(model, tokenizer, order, prompt_lookup=False),
            BuiltinEngine(model, tokenizer, order, prefix_cache=False, prompt_lookup=False))


def assert_same(got: Generation, expected: Generation) -> None:
    assert got.token_ids == expected.token_ids
    assert got.text == expected.text
    assert got.finish_reason == expected.finish_reason
    # equal up to float32 rounding: the cached positions were computed in a longer matrix product
    assert got.token_logprobs == pytest.approx(expected.token_logprobs, abs=1e-5)


def test_a_prompt_that_extends_a_cached_one_reuses_it_and_generates_the_same(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, code: list[int]
) -> None:
    warm, cold = engines(tiny_tokenizer_path, tiny_tokenizer)
    first = warm.generate(GenerationRequest(code[:150], max_new_tokens=8))
    assert first.cached_tokens == 0
    request = GenerationRequest(code[:200], max_new_tokens=16)
    got = warm.generate(request)
    assert got.cached_tokens >= 150  # (more only if the model happened to write the prompt's next tokens)
    assert got.prompt_tokens == 200
    assert_same(got, cold.generate(request))
    assert cold.generate(request).cached_tokens == 0


def test_the_same_prompt_again_recomputes_only_its_last_token(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, code: list[int]
) -> None:
    warm, cold = engines(tiny_tokenizer_path, tiny_tokenizer)
    request = GenerationRequest(code[:120], max_new_tokens=12)
    once, twice = warm.generate(request), warm.generate(request)
    assert twice.cached_tokens == 119
    assert_same(twice, once)
    assert_same(twice, cold.generate(request))


def test_a_changed_tail_reuses_what_comes_before_it(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, code: list[int]
) -> None:
    warm, cold = engines(tiny_tokenizer_path, tiny_tokenizer)
    warm.generate(GenerationRequest(code[:180], max_new_tokens=4))
    edited = code[:170] + code[300:305]  # the last 10 tokens replaced by other text
    request = GenerationRequest(edited, max_new_tokens=10, forced_prefix=b"")
    got = warm.generate(request)
    assert got.cached_tokens == 170
    assert_same(got, cold.generate(request))


def test_keystrokes_in_spm_order_reuse_nearly_the_whole_prompt(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> None:
    """SPM puts the suffix first and the prefix last: typing at the cursor keeps the prompt's
    start, so each keystroke prefills only the few tokens at its end; what it generates is
    what a cold engine generates, healing included."""
    warm, cold = engines(tiny_tokenizer_path, tiny_tokenizer, "spm")
    line_start = DECODER.index("    def decode(self, s, _w=WHITESPACE.match):")
    line_end = DECODER.index("\n", line_start)
    completer = Completer(warm)
    cached, prompts = [], []
    for cursor in range(line_start + 8, line_start + 30):
        doc = DECODER[:cursor] + DECODER[line_end:]
        built = completer.build_prompt(doc, cursor, 16)
        request = GenerationRequest(built.ids, max_new_tokens=built.max_new, forced_prefix=built.backed_off)
        got = warm.generate(request)
        assert_same(got, cold.generate(request))
        cached.append(got.cached_tokens)
        prompts.append(len(built.ids))
    assert cached[0] == 0
    # the window may move once or twice while typing (forecode.context.window snaps it); apart
    # from that, all but the few tokens at the cursor come from the cache
    reused = [c for c, n in zip(cached[1:], prompts[1:]) if c >= n - 4]
    assert len(reused) >= len(cached) - 3


def test_two_documents_in_turn_each_keep_their_entry(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, code: list[int]
) -> None:
    warm, _ = engines(tiny_tokenizer_path, tiny_tokenizer)
    a, b = code[:100], code[400:500]
    for prompt in (a, b):
        warm.generate(GenerationRequest(prompt, max_new_tokens=4))
    assert warm.generate(GenerationRequest(a + code[100:103], max_new_tokens=4)).cached_tokens >= 100
    assert warm.generate(GenerationRequest(b + code[500:503], max_new_tokens=4)).cached_tokens >= 100
    assert warm.prefix_cache is not None and len(warm.prefix_cache) == 2


def test_memory_is_bounded_by_the_entries_least_recently_used_going_first(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, code: list[int]
) -> None:
    warm, _ = engines(tiny_tokenizer_path, tiny_tokenizer)
    assert warm.prefix_cache is not None
    n = warm.prefix_cache.entries
    prompts = [code[i * 100 : i * 100 + 60] for i in range(n + 2)]
    for prompt in prompts:
        warm.generate(GenerationRequest(prompt, max_new_tokens=2))
        assert len(warm.prefix_cache) <= n
    assert warm.generate(GenerationRequest(prompts[0], max_new_tokens=2)).cached_tokens == 0  # evicted
    assert warm.generate(GenerationRequest(prompts[-1], max_new_tokens=2)).cached_tokens == 59


def test_a_generation_that_raises_leaves_the_cache_usable(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, code: list[int]
) -> None:
    warm, cold = engines(tiny_tokenizer_path, tiny_tokenizer)

    def explode(text: str) -> bool:
        if len(text) > 3:
            raise RuntimeError("stop rule failed")
        return False

    with pytest.raises(RuntimeError, match="stop rule failed"):
        warm.generate(GenerationRequest(code[:90], max_new_tokens=20, stop_when=explode))
    request = GenerationRequest(code[:95], max_new_tokens=8)
    got = warm.generate(request)
    assert got.cached_tokens >= 90
    assert_same(got, cold.generate(request))


def test_concurrent_generations_each_get_their_own_entry(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, code: list[int]
) -> None:
    warm, cold = engines(tiny_tokenizer_path, tiny_tokenizer)
    requests = [GenerationRequest(code[:80 + 7 * i], max_new_tokens=6) for i in range(8)]
    expected = [cold.generate(r) for r in requests]
    results: dict[int, Generation] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for _ in range(3):
                results[i] = warm.generate(requests[i])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, e in enumerate(expected):
        assert_same(results[i], e)
    assert warm.prefix_cache is not None and len(warm.prefix_cache) <= warm.prefix_cache.entries


def test_common_prefix_length() -> None:
    assert common_prefix_length([1, 2, 3], [1, 2, 3, 4]) == 3
    assert common_prefix_length([1, 2, 3], [1, 5, 3]) == 1
    assert common_prefix_length([], [1]) == 0
    assert common_prefix_length([7] * 1000 + [1], [7] * 1000 + [2]) == 1000
    for k in range(0, 40):
        a = list(range(40))
        b = a[:k] + [-1] + a[k + 1 :]
        assert common_prefix_length(a, b) == k


def _cache(length: int = 0) -> KVCache:
    k = [torch.zeros(1, 1, 64, 2)]
    return KVCache(k=k, v=[torch.zeros(1, 1, 64, 2)], length=length)


def test_take_keeps_an_entry_for_its_document_and_recycles_the_oldest_when_full() -> None:
    made: list[KVCache] = []

    def new_cache() -> KVCache:
        made.append(_cache())
        return made[-1]

    cache = PrefixCache(2, new_cache)
    doc_a, doc_b, doc_c = list(range(50)), list(range(100, 150)), list(range(200, 250))
    for doc in (doc_a, doc_b):
        entry = cache.take(doc)
        assert entry.ids == []
        entry.ids.extend(doc)
        entry.cache.length = len(doc)
        cache.put(entry)
    assert len(made) == 2
    again = cache.take(doc_a + [1])
    assert again.ids == doc_a and again.cache.length == 50 and again.dropped == []  # the whole cached prefix
    cache.put(again)
    same = cache.take(doc_a)
    assert same.cache.length == 49  # never the whole prompt: its last token gives the logits
    assert same.dropped == doc_a[49:]  # what the entry held beyond what is reused
    cache.put(same)
    # a third document while full: the least recently used entry (doc_b's) is recycled
    entry = cache.take(doc_c)
    assert entry.ids == [] and entry.cache is made[1] and len(made) == 2
    assert entry.dropped == []  # another document's sequence is no reference
    # a short match is not worth another document's entry
    assert MIN_REUSE_TOKENS > 3


def test_put_refuses_an_inconsistent_entry_and_entries_must_be_positive() -> None:
    cache = PrefixCache(1, _cache)
    with pytest.raises(ValueError, match="2 ids for 0 cached positions"):
        cache.put(CachedSequence([1, 2], _cache()))
    with pytest.raises(InputError, match="not 0"):
        PrefixCache(0, _cache)


def test_from_checkpoint_honours_threads_and_the_speed_options(
    tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer, tmp_path: Path
) -> None:
    from forecode.model.checkpoint import save_checkpoint

    folder = save_checkpoint(tmp_path / "ckpt", random_model(tiny_tokenizer_path), tiny_tokenizer, {})
    engine = BuiltinEngine.from_checkpoint(folder, threads=2, prefix_cache=False, prompt_lookup=False)
    assert torch.get_num_threads() == 2  # (the suite's fixture sets it back to 1)
    assert engine.prefix_cache is None and not engine.prompt_lookup
    default = BuiltinEngine.from_checkpoint(folder)
    assert default.prefix_cache is not None and default.prompt_lookup
    with pytest.raises(InputError, match="threads must be at least 1, not 0"):
        BuiltinEngine.from_checkpoint(folder, threads=0)
