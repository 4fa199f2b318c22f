"""An n-gram baseline behind the same `Engine` interface: interpolated modified Kneser-Ney.

The model counts the 1..N-grams (default N = 4) of the training corpus as one token stream,
documents joined with end-of-text (and one end-of-text in front, so every document starts
after one). Probabilities follow interpolated modified Kneser-Ney (Chen & Goodman 1998):

    P_k(w | h) = (a_k(h, w) - D_k(a_k(h, w))) / A_k(h)  +  gamma_k(h) * P_{k-1}(w | h')

where h' is h without its first token, a_N are raw counts, a_k (k < N) are continuation counts
(how many distinct tokens precede the k-gram), A_k(h) = sum_w a_k(h, w), D_k(c) is one of three
discounts (c = 1, 2, 3+) estimated from that order's counts of counts, and gamma_k(h) is the
mass the discounts took (plus, when the top order was pruned, the whole count of what was
pruned), so every P_k sums to 1. A context never seen at order k passes P_{k-1} through
unchanged; P_1 interpolates with the uniform distribution over the vocabulary, so every token,
end-of-text included, has some probability and generation can stop on its own.

Storage, per order k >= 2, grouped by context (the first k-1 tokens, packed `bits` bits a
token into one int64): `contexts{k}` (sorted keys), `offsets{k}` (where each context's
continuations start), `totals{k}` (A), `tokens{k}` (the continuation tokens) and `counts{k}`
(their a-values); `counts1` holds the unigram a-values, one per token, and `discounts` the D's.
The gammas follow from these at load. A next-token distribution over the whole vocabulary is
then N-1 binary searches and N vector updates, some microseconds. One `.npz` file (no pickle)
holds the arrays, the tokenizer JSON and its fingerprint, so it loads with nothing else.

The prompt arrives in forecode's FIM layout; an n-gram model cannot use the suffix, so it
conditions on the last N-1 tokens of the prefix part and what it has generated since.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer
from tqdm import tqdm

from forecode.engine.base import Generation, GenerationRequest
from forecode.engine.decoding import DecodeState, check_room
from forecode.errors import InputError
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import FimOrder
from forecode.tokenizer.healing import TokenHealer
from forecode.tokenizer.templates import PromptFormat

FORMAT = "forecode-ngram"
VERSION = 1
METHOD = "interpolated modified Kneser-Ney"
DEFAULT_ORDER = 4
DEFAULT_CONTEXT_LENGTH = 512  # the shipped model's block size, so the Completer builds the same windows

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Counts = npt.NDArray[Any]  # non-negative integers, in the narrowest dtype that holds them


def token_bits(vocab_size: int) -> int:
    """Bits one token takes in a packed context key."""
    return max(1, (vocab_size - 1).bit_length())


def narrow(a: npt.NDArray[Any]) -> Counts:
    """Non-negative integers in the smallest of uint16, uint32 and int64 that holds them."""
    top = int(a.max()) if a.size else 0
    for dtype in (np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return a.astype(dtype)
    return a.astype(np.int64)


@dataclass(frozen=True)
class OrderTable:
    """The k-grams of one order k >= 2, grouped by their context (the first k-1 tokens)."""

    contexts: IntArray  # (m,) packed keys of k-1 tokens, oldest first, sorted
    offsets: Counts  # (m + 1,) context j's continuations are tokens[offsets[j]:offsets[j + 1]]
    totals: Counts  # (m,) A(h): the a-values of h's continuations summed, pruned ones included
    tokens: Counts  # (n,) the last token of each k-gram, ascending within a context
    counts: Counts  # (n,) a-values: raw counts at the top order, continuation counts below


@dataclass(frozen=True)
class BuildSummary:
    tokens: int
    documents: int
    ngrams: list[int]  # n-grams kept per order, 1..N
    seconds: float


class NgramModel:
    """Counts and discounts of an N-gram model over one tokenizer's vocabulary."""

    def __init__(self, unigrams: Counts, tables: list[OrderTable], discounts: FloatArray, info: dict[str, Any]) -> None:
        self.order = len(tables) + 1
        if discounts.shape != (self.order, 4):
            raise InputError(f"an order-{self.order} model needs ({self.order}, 4) discounts, not {discounts.shape}")
        self.vocab_size = len(unigrams)
        self.bits = token_bits(self.vocab_size)
        self.unigrams = unigrams  # (V,) continuation counts of each token
        self.tables = tables  # orders 2..N
        self.discounts = discounts  # (N, 4): row k-1 holds D_k(0) = 0, D_k(1), D_k(2), D_k(3+)
        self.info = info
        self.unigram = self._unigram()  # (V,) P_1
        self.backoff = [self._backoff(k, t) for k, t in enumerate(tables, start=2)]  # gamma(h) per context

    def _unigram(self) -> FloatArray:
        total = float(self.unigrams.sum())
        if total == 0:
            return np.full(self.vocab_size, 1.0 / self.vocab_size)
        kept = (self.unigrams - self.discounts[0][np.minimum(self.unigrams, 3)]) / total
        return np.asarray(kept + (1.0 - kept.sum()) / self.vocab_size, dtype=np.float64)

    def _backoff(self, k: int, t: OrderTable) -> FloatArray:
        """gamma(h) = 1 - sum over kept w of (a - D(a)) / A(h): what the discounts and pruning left over."""
        kept = t.counts - self.discounts[k - 1][np.minimum(t.counts, 3)]
        if len(t.contexts) == 0:
            return np.zeros(0)
        return np.asarray(1.0 - np.add.reduceat(kept, t.offsets[:-1].astype(np.int64)) / t.totals, dtype=np.float64)

    def ngram_counts(self) -> list[int]:
        """How many n-grams each order holds, 1..N."""
        return [int(np.count_nonzero(self.unigrams)), *(len(t.tokens) for t in self.tables)]

    def distribution(self, history: Sequence[int]) -> FloatArray:
        """P(next token | the last N-1 tokens of `history`) over the whole vocabulary: (V,)."""
        hist = list(history)[len(history) - (self.order - 1):] if len(history) > self.order - 1 else list(history)
        for tok in hist:
            if not 0 <= tok < self.vocab_size:
                raise InputError(f"token id {tok} is outside the vocabulary (0..{self.vocab_size - 1})")
        p = self.unigram
        for k in range(2, min(self.order, len(hist) + 1) + 1):
            ctx = 0
            for tok in hist[len(hist) - (k - 1):]:
                ctx = (ctx << self.bits) | tok
            t = self.tables[k - 2]
            j = int(np.searchsorted(t.contexts, ctx))
            if j >= len(t.contexts) or int(t.contexts[j]) != ctx:
                continue  # unseen context: P_k = P_{k-1}
            lo, hi = int(t.offsets[j]), int(t.offsets[j + 1])
            a = t.counts[lo:hi]
            p = p * float(self.backoff[k - 2][j])
            p[t.tokens[lo:hi]] += (a - self.discounts[k - 1][np.minimum(a, 3)]) / float(t.totals[j])
        return p

    # -- one file -------------------------------------------------------------------------

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        out: dict[str, npt.NDArray[Any]] = {"discounts": self.discounts, "counts1": self.unigrams}
        for k, t in enumerate(self.tables, start=2):
            out |= {f"contexts{k}": t.contexts, f"offsets{k}": t.offsets, f"totals{k}": t.totals,
                    f"tokens{k}": t.tokens, f"counts{k}": t.counts}
        return out

    @classmethod
    def from_arrays(cls, order: int, data: Any, info: dict[str, Any]) -> NgramModel:
        tables = [
            OrderTable(data[f"contexts{k}"], data[f"offsets{k}"], data[f"totals{k}"], data[f"tokens{k}"], data[f"counts{k}"])
            for k in range(2, order + 1)
        ]
        return cls(data["counts1"], tables, np.asarray(data["discounts"], dtype=np.float64), info)


# -- counting ---------------------------------------------------------------------------------


def tokenize_stream(
    texts: Iterable[str], tokenizer: CodeTokenizer, max_tokens: int | None = None, batch_size: int = 256,
    progress: bool = True, total: int | None = None,
) -> tuple[IntArray, int]:
    """One stream of ids: end-of-text, then each document followed by end-of-text; (stream, documents)."""
    eot = tokenizer.special.eot
    chunks: list[npt.NDArray[np.int32]] = [np.array([eot], dtype=np.int32)]
    n_tokens, n_docs = 1, 0
    bar = tqdm(total=total, unit="doc", desc="tokenizing", disable=not progress, leave=False)
    batch: list[str] = []

    def flush() -> bool:
        nonlocal n_tokens, n_docs
        for ids in tokenizer.encode_batch(batch):
            doc = np.array([*ids, eot], dtype=np.int32)
            if max_tokens is not None and n_tokens + len(doc) > max_tokens:
                doc = doc[: max_tokens - n_tokens]
            chunks.append(doc)
            n_tokens += len(doc)
            n_docs += 1
            if max_tokens is not None and n_tokens >= max_tokens:
                return False
        bar.update(len(batch))
        bar.set_postfix(tokens=f"{n_tokens / 1e6:.1f}M")
        batch.clear()
        return True

    try:
        for text in texts:
            batch.append(text)
            if len(batch) >= batch_size and not flush():
                break
        else:
            if batch:
                flush()
    finally:
        bar.close()
    return np.concatenate(chunks).astype(np.int64), n_docs


def _discounts(a: IntArray) -> npt.NDArray[np.float64]:
    """Modified Kneser-Ney discounts [0, D1, D2, D3+] from the counts of counts of one order.

    Where a count of counts is zero (a tiny corpus) the three cannot be estimated; then one
    absolute discount serves all three, n1 / (n1 + 2 n2), or 0.5 without singletons and pairs.
    """
    n = [int(np.count_nonzero(a == c)) for c in range(1, 5)]
    if min(n) > 0:
        y = n[0] / (n[0] + 2 * n[1])
        d = [c - (c + 1) * y * n[c] / n[c - 1] for c in range(1, 4)]
        if all(0 < d_c < c for c, d_c in zip(range(1, 4), d)):
            return np.array([0.0, *d])
    single = n[0] / (n[0] + 2 * n[1]) if n[0] > 0 and n[1] > 0 else 0.5
    return np.array([0.0, single, single, single])


def count_ngrams(
    stream: IntArray, order: int, vocab_size: int, min_count: int = 1, progress: bool = True,
    info: dict[str, Any] | None = None,
) -> NgramModel:
    """An interpolated modified Kneser-Ney model of `stream`; top-order n-grams seen fewer than
    `min_count` times are pruned (their mass goes to the backoff weight)."""
    bits = token_bits(vocab_size)
    if order < 1 or order * bits > 63:
        raise InputError(f"order {order} does not fit a vocabulary of {vocab_size} in 64-bit keys (1..{63 // bits})")
    if min_count < 1:
        raise InputError(f"min_count must be at least 1, not {min_count}")
    if len(stream) < order:
        raise InputError(f"{len(stream)} tokens are too few for an order-{order} model")
    steps = tqdm(total=2 * order, desc="counting", disable=not progress, leave=False)

    # Top order: raw counts of every window of `order` tokens.
    span = len(stream) - order + 1
    keys = stream[:span].copy()
    for j in range(1, order):
        keys = (keys << bits) | stream[j : span + j]
    grams, counts = np.unique(keys, return_counts=True)
    del keys
    empty_int = np.zeros(0, dtype=np.int64)
    raw: list[tuple[IntArray, IntArray]] = [(grams, counts.astype(np.int64))]
    steps.update()
    # Lower orders: continuation counts, the number of distinct tokens seen before each k-gram.
    for k in range(order - 1, 0, -1):
        suffixes = raw[0][0] & ((1 << (bits * k)) - 1)
        grams, counts = np.unique(suffixes, return_counts=True)
        raw.insert(0, (grams, counts.astype(np.int64)))
        steps.update()

    discounts = np.stack([_discounts(a) for _, a in raw])  # (N, 4)
    unigrams = np.zeros(vocab_size, dtype=np.int64)
    unigrams[raw[0][0]] = raw[0][1]
    tables = []
    steps.update()
    for k in range(2, order + 1):
        grams, a = raw[k - 1]
        raw[k - 1] = (empty_int, empty_int)  # free as we go: the top order is most of the memory
        ctx = grams >> bits
        keep = a >= min_count if k == order else np.ones(len(a), dtype=bool)
        starts = np.flatnonzero(np.r_[True, ctx[1:] != ctx[:-1]])
        contexts, totals = ctx[starts], np.add.reduceat(a, starts)  # totals count pruned n-grams too
        kept_ctx = ctx[keep]
        offsets = np.r_[np.searchsorted(kept_ctx, contexts), len(kept_ctx)]
        alive = offsets[1:] > offsets[:-1]  # a context whose every continuation was pruned backs off wholly
        tables.append(OrderTable(
            contexts=contexts[alive], offsets=narrow(np.r_[offsets[:-1][alive], len(kept_ctx)]),
            totals=narrow(totals[alive]), tokens=narrow(grams[keep] & ((1 << bits) - 1)), counts=narrow(a[keep]),
        ))
        del grams, a, ctx, keep, kept_ctx
        steps.update()
    steps.close()
    return NgramModel(narrow(unigrams), tables, discounts, info or {})


def build_ngram_model(
    texts: Iterable[str], tokenizer: CodeTokenizer, order: int = DEFAULT_ORDER, max_tokens: int | None = None,
    min_count: int = 1, progress: bool = True, total_documents: int | None = None,
) -> tuple[NgramEngine, BuildSummary]:
    """Tokenize `texts` (with the tokenizer's batch encoding), count, and wrap in an engine."""
    t0 = time.perf_counter()
    if max_tokens is not None and max_tokens < order:
        raise InputError(f"--max-tokens {max_tokens} is below the order {order}")
    stream, n_docs = tokenize_stream(texts, tokenizer, max_tokens, progress=progress, total=total_documents)
    if n_docs == 0:
        raise InputError("no documents to count n-grams over")
    info = {"tokens": int(len(stream)), "documents": n_docs, "min_count": min_count, "method": METHOD}
    model = count_ngrams(stream, order, tokenizer.vocab_size, min_count, progress, info)
    summary = BuildSummary(len(stream), n_docs, model.ngram_counts(), time.perf_counter() - t0)
    return NgramEngine(model, tokenizer), summary


# -- the engine -------------------------------------------------------------------------------


class NgramEngine:
    """The `Engine` protocol over an `NgramModel`: greedy or top-p sampling, healing, stop rules."""

    def __init__(self, model: NgramModel, tokenizer: CodeTokenizer, context_length: int = DEFAULT_CONTEXT_LENGTH) -> None:
        if model.vocab_size != tokenizer.vocab_size:
            raise InputError(f"the n-gram model has {model.vocab_size} tokens but the tokenizer {tokenizer.vocab_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.fim_order: FimOrder = "spm"  # either works: the model reads only the prefix
        self.healer = TokenHealer(tokenizer)
        self._context_length = context_length
        self._allowed: dict[bytes, npt.NDArray[np.bool_]] = {}

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def prompt_format(self) -> PromptFormat:
        return PromptFormat.forecode(self.tokenizer.special, self.fim_order)

    # -- files ----------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        path = Path(path)
        with tempfile.TemporaryDirectory() as tmp:
            self.tokenizer.save(Path(tmp) / "tokenizer.json")
            tok_json = (Path(tmp) / "tokenizer.json").read_bytes()
        meta = {
            "format": FORMAT, "version": VERSION, "order": self.model.order, "vocab_size": self.model.vocab_size,
            "bits": self.model.bits, "tokenizer_fingerprint": self.tokenizer.fingerprint, **self.model.info,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = path.with_name(path.name + ".partial")
        arrays: dict[str, Any] = {
            "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            "tokenizer": np.frombuffer(tok_json, dtype=np.uint8),
            **self.model.arrays(),
        }
        with tmp_path.open("wb") as f:  # np.savez would append .npz to a name without it
            np.savez(f, **arrays)
        tmp_path.replace(path)

    @classmethod
    def from_file(cls, path: str | Path, context_length: int = DEFAULT_CONTEXT_LENGTH) -> NgramEngine:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"n-gram file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(data["meta"].tobytes().decode())
                if meta.get("format") != FORMAT:
                    raise InputError(f"{path} is not an n-gram file made by `forecode eval ngram-build` "
                                     f"(format {meta.get('format')!r})")
                if meta.get("version") != VERSION:
                    raise InputError(f"n-gram file {path} has format version {meta.get('version')}; this forecode reads {VERSION}")
                tokenizer = CodeTokenizer(Tokenizer.from_str(data["tokenizer"].tobytes().decode()))
                model = NgramModel.from_arrays(int(meta["order"]), data, meta)
        except InputError:
            raise
        except Exception as exc:  # numpy, zipfile, json and tokenizers each raise their own kind
            raise InputError(f"{path} is not an n-gram file made by `forecode eval ngram-build` ({type(exc).__name__}: {exc})") from None
        if tokenizer.fingerprint != meta.get("tokenizer_fingerprint"):
            raise InputError(f"n-gram file {path}: its tokenizer does not match the fingerprint recorded with it")
        return cls(model, tokenizer, context_length)

    # -- the protocol ---------------------------------------------------------------------

    def history(self, prompt_ids: Sequence[int]) -> list[int]:
        """What the model conditions on: the prefix part of a FIM prompt (PSM or SPM), or the
        whole of a plain one, after an end-of-text that stands for the start of the document."""
        s = self.tokenizer.special
        ids = list(prompt_ids)
        prefix = ids
        if s.fim_prefix in ids:
            i = len(ids) - 1 - ids[::-1].index(s.fim_prefix)
            rest = ids[i + 1 :]
            if s.fim_suffix in rest:
                j = rest.index(s.fim_suffix)
                if j == 0 and s.fim_middle in rest:  # SPM: <pre> <suf> suffix <mid> prefix
                    m = len(rest) - 1 - rest[::-1].index(s.fim_middle)
                    prefix = rest[m + 1 :]
                else:  # PSM: <pre> prefix <suf> suffix <mid> (an empty prefix reads the same either way)
                    prefix = rest[:j]
            else:
                prefix = rest
        return [s.eot, *prefix[-(self.model.order - 1):]] if self.model.order > 1 else []

    def _allowed_mask(self, remaining: bytes) -> npt.NDArray[np.bool_]:
        mask = self._allowed.get(remaining)
        if mask is None:
            if len(self._allowed) > 256:
                self._allowed.clear()
            mask = np.zeros(self.model.vocab_size, dtype=bool)
            mask[self.healer.allowed(remaining)] = True
            self._allowed[remaining] = mask
        return mask

    def generate(self, request: GenerationRequest) -> Generation:
        max_new = check_room(request, self.context_length)
        rng = np.random.default_rng(request.seed) if request.temperature > 0 else None

        t0 = time.perf_counter()
        hist = self.history(request.prompt_ids)
        t1 = time.perf_counter()

        state = DecodeState(self.tokenizer, request)
        while True:
            p = self.model.distribution(hist)
            if state.remaining:  # healing: only tokens consistent with the backed-off text
                p = np.where(self._allowed_mask(state.remaining), p, 0.0)
                p = p / p.sum()
            next_id = sample_token(p, request, rng)
            if state.add(next_id, float(np.log(p[next_id]))) or len(state.ids) >= max_new:
                break
            hist.append(next_id)
        t2 = time.perf_counter()
        return Generation(
            token_ids=state.ids,
            text=state.text,
            token_logprobs=state.logprobs,
            finish_reason=state.finish,
            prompt_tokens=len(request.prompt_ids),
            prefill_ms=(t1 - t0) * 1000,
            decode_ms=(t2 - t1) * 1000,
        )

    def score(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        if not prompt_ids:
            raise InputError("empty prompt")
        start = self.history(prompt_ids)
        cache: dict[tuple[int, ...], FloatArray] = {}

        def dist(h: list[int]) -> FloatArray:
            key = tuple(h[-(self.model.order - 1):]) if self.model.order > 1 else ()
            if key not in cache:
                cache[key] = self.model.distribution(key)
            return cache[key]

        out = []
        for cont in continuations:
            h, total = list(start), 0.0
            for tok in cont:
                if not 0 <= tok < self.model.vocab_size:
                    raise InputError(f"token id {tok} is outside the vocabulary (0..{self.model.vocab_size - 1})")
                total += float(np.log(dist(h)[tok]))
                h.append(tok)
            out.append(total)
        return out


def sample_token(p: FloatArray, request: GenerationRequest, rng: np.random.Generator | None) -> int:
    if request.temperature <= 0 or rng is None:
        return int(np.argmax(p))
    q = (p / p.max()) ** (1.0 / request.temperature)  # p ** (1 / T), scaled against underflow
    order = np.argsort(-q) if request.top_p < 1.0 else np.arange(len(q))
    cum = np.cumsum(q[order])
    keep = len(q)
    if request.top_p < 1.0:  # the nucleus: the fewest top tokens reaching top_p, so at least one
        keep = int(np.searchsorted(cum, request.top_p * cum[-1])) + 1
    i = int(np.searchsorted(cum[:keep], rng.random() * cum[keep - 1], side="right"))
    return int(order[min(i, keep - 1)])
