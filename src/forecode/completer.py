"""The use case in the middle: a request (document, cursor, options) in, suggestions out.

Every adapter (CLI, HTTP, LSP, eval) calls `Completer.complete`; none builds prompts or trims
output on its own. The result carries a debug window: the prompt, the raw output, the scope
rule applied, which post-processing filters changed each suggestion and how, and the timings.

Post-processing (`CompletionRequest.postprocess`):
- "raw": the engine's text as it is, cut only at end-of-text and the request's stop sequences;
- "pipeline" (the default): generation stops at the end of the cursor's scope, then every filter
  of forecode.postprocess.pipeline runs on each suggestion;
- "ranked": the pipeline on `candidates` generations (the greedy one and samples at
  RANK_TEMPERATURE), ranked by forecode.postprocess.ranking; the best `n` come back.

Repository context (`CompletionRequest.workspace_root`, `context_sources`): when the completer
has a `Workspaces` registry, snippets of the workspace's index share the prompt's token budget
with the prefix and suffix (forecode.context.assembly) in the repository-level layout of
forecode.tokenizer.fim. The index is not told about the request's document here: adapters send
the editor's text with `update_document` on didOpen / didChange, as the eval harness does.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from collections.abc import Callable
from typing import Any, Literal

from forecode.context.assembly import RETRIEVE_K, RepoContext, assemble
from forecode.context.retrieval import SOURCES, Snippet, SnippetSelection
from forecode.context.window import Window
from forecode.context.workspaces import Workspaces
from forecode.engine.base import Engine, Generation, GenerationRequest, TextPrompt
from forecode.errors import InputError
from forecode.postprocess.candidate import Candidate, Context, Finding
from forecode.postprocess.pipeline import run_pipeline
from forecode.postprocess.ranking import distinct, rank
from forecode.postprocess.scope import cut_to_scope, detect_scope
from forecode.tokenizer.healing import TokenHealer

SPECIAL_BUDGET = 3  # the FIM tokens around prefix and suffix
POSTPROCESS = ("raw", "pipeline", "ranked")
# k for "ranked", by measurement with the embedded model on 34 real-code line tasks (click):
# edit similarity 28.4 (pipeline, k=1), 31.2 (k=2), 32.1 (k=4), at p50 0.9 s, 1.6 s, 3.1 s on a
# busy 2-core CPU. k=2 takes three quarters of k=4's gain at half its latency; generation cost
# grows linearly in k, so a larger k is for GPUs or larger budgets (`candidates`).
DEFAULT_CANDIDATES = 2
MAX_CANDIDATES = 16
RANK_TEMPERATURE = 0.7  # the sampled candidates of "ranked", when the request itself is greedy


@dataclass(frozen=True)
class CompletionRequest:
    text: str
    cursor: int  # offset in code points into `text`
    path: str | None = None
    language: str | None = None
    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    n: int = 1
    stop: tuple[str, ...] = ()  # the suggestion ends before the first of these strings
    scope: Literal["auto", "none"] = "auto"  # "none": no scope cut and no filters, as a plain completions API
    postprocess: Literal["raw", "pipeline", "ranked"] = "pipeline"  # see the module docstring
    candidates: int = DEFAULT_CANDIDATES  # k, generations ranked when postprocess is "ranked"
    secrets: Literal["mask", "drop"] = "mask"  # a credential-like suggestion is masked or dropped
    security: Literal["report", "filter"] = "report"  # security findings reported, or such suggestions dropped
    workspace_root: str | None = None  # the repository the document belongs to: retrieval from its index
    context_sources: tuple[str, ...] = SOURCES  # retrieval's sources; empty: retrieval off

    def __post_init__(self) -> None:
        if not 0 <= self.cursor <= len(self.text):
            raise InputError(f"cursor {self.cursor} is outside the document (0..{len(self.text)})")
        if self.max_tokens < 1:
            raise InputError(f"max_tokens must be at least 1, not {self.max_tokens}")
        if self.temperature < 0:
            raise InputError(f"temperature must not be negative, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top_p must be in (0, 1], not {self.top_p}")
        if self.n < 1:
            raise InputError(f"n must be at least 1, not {self.n}")
        if any(not s for s in self.stop):
            raise InputError("stop sequences must not be empty strings")
        if self.scope not in ("auto", "none"):
            raise InputError(f"scope must be 'auto' or 'none', not {self.scope!r}")
        if self.postprocess not in POSTPROCESS:
            raise InputError(f"postprocess must be one of {', '.join(POSTPROCESS)}, not {self.postprocess!r}")
        if not 1 <= self.candidates <= MAX_CANDIDATES:
            raise InputError(f"candidates must be in 1..{MAX_CANDIDATES}, not {self.candidates}")
        if self.secrets not in ("mask", "drop"):
            raise InputError(f"secrets must be 'mask' or 'drop', not {self.secrets!r}")
        if self.security not in ("report", "filter"):
            raise InputError(f"security must be 'report' or 'filter', not {self.security!r}")
        unknown = [x for x in self.context_sources if x not in SOURCES]
        if unknown:
            raise InputError(f"context sources must be among {', '.join(SOURCES)}, not {', '.join(map(repr, unknown))}")

    @property
    def filtered(self) -> bool:
        """Whether the post-processing filters run (not for "raw", nor for scope "none")."""
        return self.postprocess != "raw" and self.scope == "auto"


@dataclass(frozen=True)
class TokenInfo:
    text: str
    logprob: float


@dataclass(frozen=True)
class Suggestion:
    text: str
    logprob: float  # sum over the kept tokens
    tokens: list[TokenInfo]
    finish_reason: str
    findings: tuple[Finding, ...] = ()  # security lint of the suggestion in its context
    score: float | None = None  # the ranking score, for postprocess "ranked"


@dataclass(frozen=True)
class Prompt:
    ids: list[int]  # the FIM prompt, in the engine's order
    backed_off: bytes  # what token healing took off the prefix: the suggestion must begin with it
    window: Window
    max_new: int  # tokens left for the suggestion
    context: RepoContext | None = None  # the snippets in the prompt, when retrieval ran
    retrieval_ms: float = 0.0
    context_path: str = ""  # the current file as the workspace names it, when retrieval ran
    text: TextPrompt | None = None  # the same prompt as text, for engines that send text


@dataclass(frozen=True)
class CompletionResult:
    suggestions: list[Suggestion]
    debug: dict[str, Any] = field(default_factory=dict)


class Completer:
    def __init__(self, engine: Engine, workspaces: Workspaces | None = None) -> None:
        self.engine = engine
        self.workspaces = workspaces
        self.tokenizer = engine.tokenizer
        self.healer = TokenHealer(engine.tokenizer)

    def complete(self, request: CompletionRequest, cancelled: Callable[[], bool] | None = None,
                 on_text: Callable[[int, str], None] | None = None) -> CompletionResult:
        """Suggestions for `request`. `cancelled` is polled between tokens; once it returns
        True generation stops and the suggestions so far come back with finish reason
        "cancelled". `on_text`, for streaming, is called as generation proceeds with the
        suggestion's index and its text so far (after the scope cut; the final text, after the
        filters, is in the result)."""
        t0 = time.perf_counter()
        prefix, suffix = request.text[: request.cursor], request.text[request.cursor :]
        filtered = request.filtered
        scope = detect_scope(prefix, suffix) if filtered else None
        line_prefix = prefix[prefix.rfind("\n") + 1 :]

        def cut(text: str) -> tuple[str, bool]:
            done = False
            if scope is not None:
                text, done = cut_to_scope(text, scope, line_prefix, suffix)
            ends = [i for i in (text.find(s) for s in request.stop) if i >= 0]
            return (text[: min(ends)], True) if ends else (text, done)

        built = self.build_prompt(request.text, request.cursor, request.max_tokens, path=request.path,
                                  workspace_root=request.workspace_root, context_sources=request.context_sources)
        prompt, window, max_new = built.ids, built.window, built.max_new
        t1 = time.perf_counter()

        ranked = filtered and request.postprocess == "ranked"
        runs = max(request.n, request.candidates) if ranked else request.n
        generations: list[tuple[Generation, str]] = []
        timings = []
        for i in range(runs):
            temperature, seed = request.temperature, None if request.seed is None else request.seed + i
            if ranked:  # the greedy candidate first, then samples
                temperature = 0.0 if i == 0 else (request.temperature or RANK_TEMPERATURE)
                seed = (request.seed or 0) + i

            def stop_when(text: str, i: int = i) -> bool:
                kept, done = cut(text)
                if on_text is not None:
                    on_text(i, kept)
                return done

            gen = self.engine.generate(
                GenerationRequest(
                    prompt_ids=prompt,
                    max_new_tokens=max_new,
                    temperature=temperature,
                    top_p=request.top_p,
                    seed=seed,
                    forced_prefix=built.backed_off,
                    stop_when=stop_when,
                    cancelled=cancelled,
                    text=built.text,
                )
            )
            generations.append((gen, cut(gen.text)[0]))
            timings.append({"prefill_ms": round(gen.prefill_ms, 2), "decode_ms": round(gen.decode_ms, 2), "new_tokens": len(gen.token_ids),
                            "cached_tokens": gen.cached_tokens})
            if gen.finish_reason == "cancelled":
                break
        t2 = time.perf_counter()

        context = Context(prefix, suffix, _language(request), request.secrets, request.security)
        candidates: list[Candidate | None] = []
        suggestions: list[Suggestion] = []
        for gen, text in generations:
            c = run_pipeline(text, context) if filtered else None
            final = c.text if c is not None else text
            keep = len(os.path.commonprefix([final, gen.text]))  # rewritten text keeps the tokens it shares
            tokens = self._token_infos(gen.token_ids, gen.token_logprobs, built.backed_off, keep)
            findings = c.findings if c is not None else ()
            suggestions.append(Suggestion(final, sum(t.logprob for t in tokens), tokens, gen.finish_reason, findings))
            candidates.append(c)
        debug: dict[str, Any] = {}
        if ranked:
            scored = rank([c for c in candidates if c is not None], [_mean(s) for s in suggestions])
            debug["ranking"] = [{"index": r.index, "score": _finite(r.score), "mean_logprob": _finite(r.mean_logprob),
                                 "agreement": round(r.agreement, 3), "syntax_cut": r.syntax_cut, "text": r.candidate.text}
                                for r in scored]
            suggestions = [replace(suggestions[r.index], score=r.score if r.score > float("-inf") else None)
                           for r in distinct(scored)][: request.n]
        elif request.n > 1:  # empty (dropped) suggestions last, the rest by mean log-probability
            suggestions.sort(key=lambda s: (not s.text, -_mean(s)))
        t3 = time.perf_counter()
        debug = {
            "scope": scope.mode.value if scope is not None else "none",
            "postprocess": request.postprocess if filtered else "raw",
            "prompt": self.tokenizer.decode(prompt),
            "prompt_tokens": len(prompt),
            "prefix_truncated": window.prefix_truncated,
            "suffix_truncated": window.suffix_truncated,
            "fim_order": self.engine.prompt_format.layout,
            "fim_template": self.engine.prompt_format.template.name,
            "healed": built.backed_off.decode("utf-8", errors="replace"),
            "context": self._context_record(request, built),
            "raw": [gen.text for gen, _ in generations],
            "filters": [_filter_record(i, c) for i, c in enumerate(candidates) if c is not None],
            **debug,
            "timings": {"prompt_ms": round((t1 - t0) * 1000, 2), "retrieval_ms": round(built.retrieval_ms, 2), "generations": timings,
                        "postprocess_ms": round((t3 - t2) * 1000, 2), "total_ms": round((t3 - t0) * 1000, 2)},
        }
        return CompletionResult(suggestions, debug)

    def build_prompt(self, text: str, cursor: int, max_tokens: int, heal: bool = True, *, path: str | None = None,
                     workspace_root: str | None = None, context_sources: tuple[str, ...] = ()) -> Prompt:
        """The FIM prompt for a cursor: prefix and suffix cut to the budget, the prefix healed,
        laid out in the order the engine's model was trained on; with a `workspace_root` and
        `context_sources`, snippets of that workspace first (forecode.context.assembly)."""
        max_new = min(max_tokens, max(1, self.engine.context_length // 4))
        budget = self.engine.context_length - max_new - SPECIAL_BUDGET
        retrieval_s = 0.0
        select = None
        header_path = path or ""
        if workspace_root is not None and context_sources and self.workspaces is not None:
            index = self.workspaces.get(workspace_root)
            header_path = (index.relative(path) or path) if path is not None else ""

            def select(lines: tuple[int, int]) -> SnippetSelection:
                nonlocal retrieval_s
                t0 = time.perf_counter()
                selection = index.select_snippets(text, cursor, path, RETRIEVE_K, lines, context_sources)
                retrieval_s = time.perf_counter() - t0
                return selection

        context = assemble(text, cursor, self.tokenizer, budget, select, header_path)
        window = context.window
        prefix_ids, backed_off = window.prefix_ids, b""
        if heal:
            healed = self.healer.heal(window.prefix_ids)
            prefix_ids, backed_off = healed.ids, healed.backed_off
        fmt = self.engine.prompt_format
        used = list(reversed(context.files)) if fmt.repository_level else []  # the most wanted nearest the current file
        ids = fmt.prompt([f.ids for f in used], context.header, prefix_ids, window.suffix_ids)
        as_text = TextPrompt(window.prefix, window.suffix, tuple((f.snippet.path, f.snippet.text) for f in used), header_path)
        return Prompt(ids, backed_off, window, max_new, context if select is not None else None, retrieval_s * 1000,
                      header_path, as_text)

    def _context_record(self, request: CompletionRequest, built: Prompt) -> dict[str, Any]:
        """What the debug window says about repository context: the snippets used (in the
        order of preference; the prompt holds them the other way round) and those left out."""
        if built.context is None:
            why = ("no workspace_root" if request.workspace_root is None else "no context_sources"
                   if not request.context_sources else "the completer has no workspace registry")
            return {"retrieval": "off", "why": why, "snippets": [], "dropped": []}
        ctx = built.context
        return {
            "retrieval": "on", "workspace": request.workspace_root, "sources": list(request.context_sources),
            "window_lines": list(ctx.lines) if ctx.lines else None,
            # chunks of the current file overlapping these lines are left out by the sources
            # themselves (so they take no place among the k best); what else is left out is below
            "excluded": {"path": built.context_path, "lines": list(ctx.lines) if ctx.lines else None, "why": "overlap"},
            "snippet_budget": ctx.snippet_budget, "snippet_tokens": ctx.snippet_tokens,
            "snippets": [{**_snippet_record(f.snippet), "tokens": 1 + len(f.ids)} for f in ctx.files],
            "dropped": [{**_snippet_record(s), "dropped": why} for s, why in ctx.dropped],
        }

    def _token_infos(self, ids: list[int], logprobs: list[float], forced: bytes, keep_chars: int) -> list[TokenInfo]:
        """Per-token text and log-probability, for the tokens that make up the kept text."""
        table = self.tokenizer.token_bytes
        out: list[TokenInfo] = []
        skip = len(forced)
        chars = 0
        for i, lp in zip(ids, logprobs):
            piece = table[i]
            if skip:
                cut = min(skip, len(piece))
                piece, skip = piece[cut:], skip - cut
            text = piece.decode("utf-8", errors="replace")
            if chars >= keep_chars and text:
                break
            out.append(TokenInfo(text, lp))
            chars += len(text)
        return out


LANGUAGES_BY_SUFFIX = {".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
                       ".cjs": "javascript", ".jsx": "javascriptreact", ".ts": "typescript", ".tsx": "typescriptreact"}


def _language(request: CompletionRequest) -> str:
    """The language whose rules the filters apply: the request's when the filters know it, else
    the path's, else what the request named (generic rules), else Python."""
    named = (request.language or "").lower()
    if named in LANGUAGES_BY_SUFFIX.values():
        return named
    by_path = LANGUAGES_BY_SUFFIX.get(os.path.splitext(request.path or "")[1].lower())
    return by_path or named or "python"


def _snippet_record(s: Snippet) -> dict[str, Any]:
    return {"path": s.path, "start_line": s.start_line, "end_line": s.end_line, "source": s.source, "why": s.why}


def _mean(s: Suggestion) -> float:
    return s.logprob / max(1, len(s.tokens))


def _filter_record(index: int, c: Candidate) -> dict[str, Any]:
    """What the debug window says about one suggestion's trip through the filters."""
    return {
        "index": index,
        "changes": [{"filter": ch.filter, "note": ch.note, "before": ch.before, "after": ch.after} for ch in c.changes],
        "findings": [{"rule": f.rule, "message": f.message, "line": f.line} for f in c.findings],
        "dropped": c.dropped,
    }


def _finite(x: float) -> float | None:
    """A score for JSON: None stands for minus infinity (a dropped candidate), which JSON lacks."""
    return round(x, 4) if math.isfinite(x) else None
