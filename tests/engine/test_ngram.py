"""The n-gram baseline: a proper distribution, memorised lines, healing, FIM, the file, the CLI."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from forecode.cli import main
from forecode.completer import Completer, CompletionRequest
from forecode.corpus.shards import iter_records
from forecode.engine.base import GenerationRequest
from forecode.engine.ngram import NgramEngine, build_ngram_model, sample_token
from forecode.errors import InputError
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import fim_prompt
from forecode.tokenizer.healing import TokenHealer

CODE = "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n"
# A text whose every 3-token window (under the tiny tokenizer) is followed by one token only,
# so a 4-gram model counted over it alone reproduces it exactly.
MEMORISED = (
    "def dedent(text, width):\n"
    "    lines = text.split()\n"
    "    return [line.strip() for line in lines if len(line) < width]\n"
)
LINE_START = MEMORISED.index("    lines")
LINE_END = MEMORISED.index("\n", LINE_START)
CURSORS = tuple(range(MEMORISED.index("lines"), LINE_END, 2))


def document_at(cursor: int) -> tuple[str, str]:
    """The document with its second line typed up to `cursor`, and the rest of that line."""
    return MEMORISED[:cursor] + MEMORISED[LINE_END:], MEMORISED[cursor:LINE_END]


@pytest.fixture(scope="module")
def corpus_engine(tiny_corpus: Path, tiny_tokenizer: CodeTokenizer) -> NgramEngine:
    texts = [rec["text"] for rec in iter_records(tiny_corpus)]
    engine, _ = build_ngram_model(texts, tiny_tokenizer, progress=False)
    return engine


@pytest.fixture(scope="module")
def memorised(tiny_tokenizer: CodeTokenizer) -> NgramEngine:
    """Counted over MEMORISED alone, three times."""
    ids = [tiny_tokenizer.special.eot, *tiny_tokenizer.encode(MEMORISED), tiny_tokenizer.special.eot]
    windows = {tuple(ids[i : i + 3]): ids[i + 3] for i in range(len(ids) - 3)}
    assert all(windows[tuple(ids[i : i + 3])] == ids[i + 3] for i in range(len(ids) - 3)), "MEMORISED is ambiguous"
    engine, _ = build_ngram_model([MEMORISED] * 3, tiny_tokenizer, progress=False)
    return engine


def fim_request(engine: NgramEngine, prefix: str, suffix: str) -> tuple[list[int], bytes]:
    """The prompt and forced prefix the completer would send: PSM, the prefix healed."""
    tok = engine.tokenizer
    healed = TokenHealer(tok).heal(tok.encode(prefix))
    return fim_prompt(healed.ids, tok.encode(suffix), tok.special), healed.backed_off


def test_distributions_sum_to_one(corpus_engine: NgramEngine) -> None:
    model = corpus_engine.model
    ids = corpus_engine.tokenizer.encode(CODE)
    unseen = [7, 7, 7]  # the same byte-level token three times: a context the corpus lacks
    for history in ([], ids[:1], ids[:2], ids, unseen, [corpus_engine.tokenizer.special.eot]):
        p = model.distribution(history)
        assert p.shape == (corpus_engine.tokenizer.vocab_size,)
        assert (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-9)


def kneser_ney_by_hand(texts: list[str], tok: CodeTokenizer, discounts: np.ndarray, history: list[int], min_count: int = 1) -> np.ndarray:
    """Interpolated modified Kneser-Ney, order 4, the slow way: dictionaries and loops."""
    N, V, eot = 4, tok.vocab_size, tok.special.eot
    stream = [eot]
    for text in texts:
        stream += [*tok.encode(text), eot]
    a: dict[int, Counter[tuple[int, ...]]] = {N: Counter(tuple(stream[i : i + N]) for i in range(len(stream) - N + 1))}
    for k in range(N - 1, 0, -1):
        a[k] = Counter(g[1:] for g in a[k + 1])  # one per distinct left neighbour

    def D(k: int, c: int) -> float:
        return float(discounts[k - 1][min(c, 3)])

    A1 = sum(a[1].values())
    p = np.array([(a[1][(w,)] - D(1, a[1][(w,)])) / A1 for w in range(V)])
    p += (1 - p.sum()) / V
    for k in range(2, N + 1):
        h = tuple(history[len(history) - (k - 1) :])
        seen = {g[-1]: c for g, c in a[k].items() if g[:-1] == h}
        if len(h) < k - 1 or not seen:
            continue
        total = sum(seen.values())
        kept = {w: c for w, c in seen.items() if k < N or c >= min_count}
        gamma = (sum(D(k, c) for c in kept.values()) + sum(c for w, c in seen.items() if w not in kept)) / total
        p = gamma * p
        for w, c in kept.items():
            p[w] += (c - D(k, c)) / total
    return p


@pytest.mark.parametrize("min_count", [1, 2])
def test_distribution_equals_kneser_ney_by_hand(tiny_corpus: Path, tiny_tokenizer: CodeTokenizer, min_count: int) -> None:
    texts = [rec["text"] for rec in iter_records(tiny_corpus)][:2]
    engine, _ = build_ngram_model(texts, tiny_tokenizer, min_count=min_count, progress=False)
    ids = tiny_tokenizer.encode(texts[0])
    for history in ([], ids[:1], ids[:2], ids[:40], ids[100:140], [7, 7, 7], [*ids[:3], 7]):
        expected = kneser_ney_by_hand(texts, tiny_tokenizer, engine.model.discounts, history, min_count)
        np.testing.assert_allclose(engine.model.distribution(history), expected, rtol=1e-9, atol=1e-12)


def test_pruned_model_still_sums_to_one(tiny_corpus: Path, tiny_tokenizer: CodeTokenizer) -> None:
    texts = [rec["text"] for rec in iter_records(tiny_corpus)]
    full, _ = build_ngram_model(texts, tiny_tokenizer, progress=False)
    pruned, summary = build_ngram_model(texts, tiny_tokenizer, min_count=2, progress=False)
    assert summary.ngrams[-1] < full.model.ngram_counts()[-1]
    ids = tiny_tokenizer.encode(CODE)
    for end in range(1, len(ids), 5):
        assert pruned.model.distribution(ids[:end]).sum() == pytest.approx(1.0, abs=1e-9)


def test_memorised_text_is_continued_greedily_to_end_of_text(memorised: NgramEngine) -> None:
    tok = memorised.tokenizer
    whole = tok.encode(MEMORISED)
    tried = 0
    for cursor in CURSORS:
        doc, _ = document_at(cursor)
        healed = TokenHealer(tok).heal(tok.encode(doc[:cursor]))
        if whole[: len(healed.ids)] != healed.ids:
            continue  # the healed prefix splits differently from the text counted: an unseen context
        tried += 1
        prompt, forced = fim_request(memorised, doc[:cursor], doc[cursor:])
        gen = memorised.generate(GenerationRequest(prompt, max_new_tokens=64, forced_prefix=forced))
        assert gen.text == MEMORISED[cursor:], cursor
        assert gen.finish_reason == "end_of_text"
        assert tok.special.eot not in gen.token_ids
        assert len(gen.token_logprobs) == len(gen.token_ids)
        assert all(lp <= 0 for lp in gen.token_logprobs)
        assert gen.prompt_tokens == len(prompt)
    assert tried >= 3


def test_max_new_tokens_and_stop_when(memorised: NgramEngine) -> None:
    prompt, _ = fim_request(memorised, MEMORISED[:10], "")
    gen = memorised.generate(GenerationRequest(prompt, max_new_tokens=3))
    assert len(gen.token_ids) == 3
    assert gen.finish_reason == "max_tokens"
    seen: list[str] = []

    def at_equals(text: str) -> bool:
        seen.append(text)
        return "=" in text

    gen = memorised.generate(GenerationRequest(prompt, max_new_tokens=64, stop_when=at_equals))
    assert gen.finish_reason == "stop_rule"
    assert gen.text.rstrip().endswith("=")
    assert seen[-1] == gen.text


def test_forced_prefix_is_spelled_first_and_left_out_of_the_text(corpus_engine: NgramEngine) -> None:
    tok = corpus_engine.tokenizer
    prompt = tok.encode("def f(x):\n    ")
    gen = corpus_engine.generate(GenerationRequest(prompt, max_new_tokens=8, forced_prefix=b"retu"))
    spelled = b"".join(tok.token_bytes[i] for i in gen.token_ids)
    assert spelled.startswith(b"retu")
    assert gen.text == spelled[4:].decode("utf-8", errors="replace")


def test_score_is_the_sum_of_per_step_log_probabilities(corpus_engine: NgramEngine) -> None:
    tok = corpus_engine.tokenizer
    prefix, suffix = "def load(path):\n    with open(", ") as f:\n"
    prompt, _ = fim_request(corpus_engine, prefix, suffix)
    continuations = [tok.encode("path"), tok.encode("path, 'rb'"), [tok.special.eot], []]
    scores = corpus_engine.score(prompt, continuations)
    history = corpus_engine.history(prompt)
    for cont, score in zip(continuations, scores):
        expected = sum(float(np.log(corpus_engine.model.distribution(history + cont[:i])[t])) for i, t in enumerate(cont))
        assert score == pytest.approx(expected, abs=1e-9)
    gen = corpus_engine.generate(GenerationRequest(prompt, max_new_tokens=6))
    assert corpus_engine.score(prompt, [gen.token_ids])[0] == pytest.approx(gen.logprob, abs=1e-9)


def test_fim_prompt_conditions_on_the_prefix_only(corpus_engine: NgramEngine) -> None:
    tok = corpus_engine.tokenizer
    prefix = tok.encode("def load(path):\n    with open(path) as f:\n        return ")
    outputs = set()
    for suffix in ("", "\n\nprint(load('x'))\n", "import os\n" * 5):
        psm = fim_prompt(prefix, tok.encode(suffix), tok.special, "psm")
        spm = fim_prompt(prefix, tok.encode(suffix), tok.special, "spm")
        for prompt in (psm, spm):
            assert corpus_engine.history(prompt)[-3:] == prefix[-3:]
            outputs.add(tuple(corpus_engine.generate(GenerationRequest(prompt, max_new_tokens=12)).token_ids))
    assert len(outputs) == 1
    empty = fim_prompt([], tok.encode("x = 1\n"), tok.special)
    assert corpus_engine.history(empty) == [tok.special.eot]


def test_seeded_sampling_is_reproducible_and_tiny_top_p_is_greedy(corpus_engine: NgramEngine) -> None:
    prompt = corpus_engine.tokenizer.encode(CODE)

    def sample(seed: int, top_p: float = 1.0) -> list[int]:
        request = GenerationRequest(prompt, max_new_tokens=12, temperature=1.0, top_p=top_p, seed=seed)
        return corpus_engine.generate(request).token_ids

    assert sample(7) == sample(7)
    assert len({tuple(sample(seed)) for seed in range(4)}) > 1
    greedy = corpus_engine.generate(GenerationRequest(prompt, max_new_tokens=12)).token_ids
    assert all(sample(seed, top_p=1e-9) == greedy for seed in range(3))


def test_sampling_follows_temperature_and_nucleus() -> None:
    p = np.array([0.5, 0.3, 0.2, 0.0])
    rng = np.random.default_rng(0)

    def frequencies(temperature: float, top_p: float) -> np.ndarray:
        request = GenerationRequest([1], temperature=temperature, top_p=top_p)
        draws = [sample_token(p, request, rng) for _ in range(4000)]
        return np.bincount(draws, minlength=4) / len(draws)

    np.testing.assert_allclose(frequencies(1.0, 1.0), p, atol=0.03)
    np.testing.assert_allclose(frequencies(0.5, 1.0), p**2 / (p**2).sum(), atol=0.03)
    np.testing.assert_allclose(frequencies(1.0, 0.7), [0.625, 0.375, 0, 0], atol=0.03)  # 0.5 + 0.3 reach 0.7


@pytest.mark.parametrize(("prompt_len", "max_new", "message"), [(0, 8, "empty prompt"), (600, 8, "600 tokens"), (4, 0, "max_new_tokens")])
def test_bad_requests_raise_input_error(corpus_engine: NgramEngine, prompt_len: int, max_new: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        corpus_engine.generate(GenerationRequest([5] * prompt_len, max_new_tokens=max_new))


def test_save_and_load_round_trip(corpus_engine: NgramEngine, tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    corpus_engine.save(path)
    loaded = NgramEngine.from_file(path)
    assert loaded.tokenizer.fingerprint == corpus_engine.tokenizer.fingerprint
    assert loaded.model.order == 4
    assert loaded.model.ngram_counts() == corpus_engine.model.ngram_counts()
    ids = corpus_engine.tokenizer.encode(CODE)
    for end in (0, 1, 2, 10, len(ids)):
        np.testing.assert_array_equal(loaded.model.distribution(ids[:end]), corpus_engine.model.distribution(ids[:end]))


def test_missing_or_foreign_files_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.npz does not exist"):
        NgramEngine.from_file(tmp_path / "nope.npz")
    foreign = tmp_path / "foreign.npz"
    foreign.write_text("not a zip file")
    with pytest.raises(InputError, match="foreign.npz is not an n-gram file"):
        NgramEngine.from_file(foreign)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(InputError, match="other.npz is not an n-gram file"):
        NgramEngine.from_file(other)


def test_completer_runs_over_the_ngram_engine(memorised: NgramEngine, corpus_engine: NgramEngine) -> None:
    cursor = MEMORISED.index("lines") + len("lines")
    doc, rest = document_at(cursor)
    result = Completer(memorised).complete(CompletionRequest(doc, cursor))
    assert result.suggestions[0].text == rest
    assert result.debug["timings"]["generations"][0]["new_tokens"] > 0
    result = Completer(corpus_engine).complete(CompletionRequest(CODE + "    x = json.", len(CODE) + 13, n=2, temperature=0.8, seed=1))
    assert len(result.suggestions) == 2
    assert any(s.text for s in result.suggestions)


def test_cli_builds_a_loadable_file(tiny_corpus: Path, tiny_tokenizer_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ngram.npz"
    args = ["eval", "ngram-build", "--corpus", str(tiny_corpus), "--tokenizer", str(tiny_tokenizer_path), "--out", str(out)]
    assert main([*args, "--order", "3", "--val-fraction", "0"]) == 0
    assert "3-grams" in capsys.readouterr().out
    engine = NgramEngine.from_file(out)
    assert engine.model.order == 3
    assert engine.generate(GenerationRequest(engine.tokenizer.encode(CODE), max_new_tokens=4)).token_ids


def test_cli_refuses_a_missing_corpus(tiny_tokenizer_path: Path, tmp_path: Path) -> None:
    code = main(["eval", "ngram-build", "--corpus", str(tmp_path / "nope"), "--tokenizer", str(tiny_tokenizer_path),
                 "--out", str(tmp_path / "x.npz")])
    assert code == 2
    assert not (tmp_path / "x.npz").exists()
