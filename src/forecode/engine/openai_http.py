"""The `openai` backend: any OpenAI-compatible completions server (vLLM, llama.cpp's
llama-server, llama-cpp-python's server, Ollama, TGI, forecode serve itself).

The server tokenizes, so this engine sends text: the completer's prefix and suffix windows
(whole, not backed off by healing: the server continues right after the cursor). FIM goes one of
two ways:

- `suffix`: `prompt` is the prefix and `suffix` the suffix, and the server lays them out with its
  model's own FIM tokens (llama-cpp-python and llama-server do; vLLM does not).
- a template (`starcoder`, `qwen`, ... see forecode.tokenizer.templates): the prompt is the
  family's layout as text, repository context included where the family has a file
  separator; the server must parse special tokens in prompt text (vLLM, llama-server and
  llama-cpp-python do).

The reply is streamed, so the completer's stop rules end it early (closing the stream stops the
server) and cancellation takes effect between chunks. The local tokenizer only budgets the
prompt and gives each suggestion per-token text; the server's log-probabilities, where it
sends them, are spread evenly over those tokens.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx

from forecode.engine.base import FinishReason, Generation, GenerationRequest, TextPrompt
from forecode.engine.decoding import check_room
from forecode.errors import InputError
from forecode.tokenizer.fim import file_header, file_text
from forecode.tokenizer.protocol import ModelTokenizer
from forecode.tokenizer.templates import FimTemplate, PromptFormat, template_by_name, template_for_model_name

DEFAULT_CONTEXT_LENGTH = 2048
API_KEY_VARIABLES = ("FORECODE_OPENAI_API_KEY", "OPENAI_API_KEY")


class OpenAIEngine:
    def __init__(self, base_url: str, tokenizer: ModelTokenizer, template: str = "auto", model: str | None = None,
                 api_key: str | None = None, context_length: int = DEFAULT_CONTEXT_LENGTH, timeout: float = 60.0) -> None:
        """`template`: "suffix" for FIM through the server's `suffix` field, a template name for
        that family's layout as text, or "auto": by the served model's name, else "suffix".
        `model` None: the first model the server lists."""
        if not base_url.startswith(("http://", "https://")):
            raise InputError(f"the openai backend needs the server's base URL (http://host:port/v1), not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.tokenizer = tokenizer
        self._context_length = context_length
        key = api_key or next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)), None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self.model = model or self._first_model()
        self.template: FimTemplate | None  # None: the server's own FIM
        if template == "suffix":
            self.template = None
        elif template == "auto":
            self.template = template_for_model_name(self.model)
        else:
            self.template = template_by_name(template)
        # The prompt ids only budget the prompt: forecode's layout on the local tokenizer, with
        # context files where the remote layout has a file separator.
        s = tokenizer.special
        sep = s.file_sep if self.template is not None and self.template.file_sep and self.template.fim else -1
        shown = self.template or FimTemplate("suffix", "the server's own FIM (the suffix field)")
        self._format = PromptFormat(shown, replace(s, file_sep=sep), tokenizer.stop_ids)

    def _first_model(self) -> str:
        data = self._get_json("/models")
        models = data.get("data") if isinstance(data, dict) else None
        if not isinstance(models, list) or not models or not isinstance(models[0], dict) or "id" not in models[0]:
            raise InputError(f"{self.base_url}/models lists no model; name one with --model-name")
        return str(models[0]["id"])

    def _get_json(self, path: str) -> Any:
        try:
            r = self._client.get(path)
        except httpx.HTTPError as exc:
            raise InputError(f"cannot reach the completions server at {self.base_url}: {exc}") from None
        if r.status_code != 200:
            raise InputError(f"{self.base_url}{path} answered {r.status_code}: {r.text[:200]}")
        try:
            return r.json()
        except json.JSONDecodeError:
            raise InputError(f"{self.base_url}{path} did not answer JSON: {r.text[:200]!r}") from None

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def prompt_format(self) -> PromptFormat:
        return self._format

    def body(self, request: GenerationRequest, max_new: int) -> dict[str, Any]:
        """The /v1/completions request for `request`."""
        text = request.text or TextPrompt(self.tokenizer.decode(request.prompt_ids), "")
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_new, "temperature": request.temperature,
                                "top_p": request.top_p, "stream": True, "logprobs": 1}
        if request.seed is not None:
            body["seed"] = request.seed
        if self.template is None:
            body["prompt"], body["suffix"] = text.prefix, text.suffix
        else:
            body["prompt"] = render_text_prompt(self.template, text)
        return body

    def generate(self, request: GenerationRequest) -> Generation:
        max_new = check_room(request, self._context_length)
        forced = request.forced_prefix.decode("utf-8", errors="replace") if request.text is None else ""
        t0 = time.perf_counter()
        pieces: list[str] = []
        logprob, n_logprobs = 0.0, 0
        finish: FinishReason = "max_tokens"
        first_at = None
        try:
            with self._client.stream("POST", "/completions", json=self.body(request, max_new)) as r:
                if r.status_code != 200:
                    r.read()
                    raise InputError(f"{self.base_url}/completions answered {r.status_code}: {r.text[:300]}")
                for choice in _events(r.iter_lines()):
                    if first_at is None:
                        first_at = time.perf_counter()
                    pieces.append(str(choice.get("text") or ""))
                    lp = (choice.get("logprobs") or {}).get("token_logprobs") or []
                    logprob += sum(x for x in lp if isinstance(x, (int, float)))
                    n_logprobs += len(lp)
                    text = "".join(pieces)
                    if request.cancelled is not None and request.cancelled():
                        finish = "cancelled"
                        break
                    if request.stop_when is not None and request.stop_when(text):
                        finish = "stop_rule"
                        break
                    reason = choice.get("finish_reason")
                    if reason:
                        finish = "max_tokens" if reason == "length" else "end_of_text"
                        break
        except httpx.HTTPError as exc:
            raise InputError(f"the completions server at {self.base_url} failed: {exc}") from None
        t1 = time.perf_counter()
        text = "".join(pieces)
        if request.forced_prefix and request.text is None:  # an id-only prompt was healed: drop the forced text
            text = text[len(forced):] if text.startswith(forced) else text
        ids = self.tokenizer.encode(request.forced_prefix.decode("utf-8", errors="replace") + text) if text else []
        per_token = logprob / len(ids) if ids and n_logprobs else 0.0
        first = first_at or t1
        return Generation(ids, text, [per_token] * len(ids), finish, len(request.prompt_ids),
                          (first - t0) * 1000, (t1 - first) * 1000)

    def score(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        raise InputError("the openai backend cannot score continuations (identifier ranking needs a local model: "
                         "builtin, hf or llamacpp)")


def render_text_prompt(template: FimTemplate, text: TextPrompt) -> str:
    """The template's layout as text, with the context files first where the family has a
    file separator (the repository-level layout of forecode.tokenizer.fim)."""
    body = template.render(text.prefix, text.suffix)
    if not template.file_sep or not template.fim or not text.files:
        return body
    context = "".join(template.file_sep + file_text(path, t) for path, t in text.files)
    return f"{context}{template.file_sep}{file_header(text.path)}{body}"


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The first choice of each server-sent event, until [DONE]."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            raise InputError(f"the completions server sent an event that is not JSON: {data[:200]!r}") from None
        choices = event.get("choices") if isinstance(event, dict) else None
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            yield choices[0]
