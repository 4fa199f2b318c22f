"""The openai backend against a real OpenAI-compatible server: llama-cpp-python's own
(`python -m llama_cpp.server`) serving forecode-tiny exported as GGUF, on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from forecode.completer import Completer, CompletionRequest
from forecode.engine.base import GenerationRequest, TextPrompt
from forecode.engine.loading import EngineOptions, load_engine
from forecode.engine.openai_http import OpenAIEngine, render_text_prompt
from forecode.errors import InputError
from forecode.model.embedded import embedded_model_path
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.templates import TEMPLATES

CODE = "def fibonacci(n):\n    if n < 2:\n        return n\n    return "


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is a dev dependency")
    from forecode.model.export_gguf import export_gguf

    gguf = export_gguf(embedded_model_path(), tmp_path_factory.mktemp("served") / "forecode-tiny.gguf", "f32")
    port = free_port()
    log = tmp_path_factory.mktemp("log") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "1024", "--n_threads", "2"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_completes_through_llama_cpp_python_server(server: str) -> None:
    engine = load_engine("openai", server)
    assert engine.model.endswith("forecode-tiny.gguf")
    assert engine.prompt_format.template.name == "forecode"  # chosen by the served model's name
    completer = Completer(engine)
    result = completer.complete(CompletionRequest(text=CODE + "\n", cursor=len(CODE), max_tokens=24))
    s = result.suggestions[0]
    raw = result.debug["raw"][0]
    assert raw.strip() and raw.count("\n") <= 1  # the stream was closed at the end of the line
    assert s.finish_reason == "stop_rule" and "\n" not in s.text
    assert result.debug["fim_template"] == "forecode"


def test_the_stop_rule_closes_the_stream_early(server: str) -> None:
    engine = load_engine("openai", server)
    seen: list[str] = []

    def stop(text: str) -> bool:
        seen.append(text)
        return len(text) >= 3

    ids = engine.tokenizer.encode(CODE)
    gen = engine.generate(GenerationRequest(ids, max_new_tokens=200, stop_when=stop, text=TextPrompt(CODE, "")))
    assert gen.finish_reason == "stop_rule" and len(seen) < 200 and len(gen.text) >= 3
    cancelled = engine.generate(GenerationRequest(ids, max_new_tokens=200, cancelled=lambda: True, text=TextPrompt(CODE, "")))
    assert cancelled.finish_reason == "cancelled"


def test_request_bodies_for_suffix_and_template_modes() -> None:
    tok = CodeTokenizer.from_file(embedded_model_path() / "tokenizer.json")
    text = TextPrompt("def f(x):\n    ", "\n    return y\n", (("util.py", "def g():\n    pass\n"),), "main.py")
    suffix = OpenAIEngine("http://127.0.0.1:9/v1", tok, "suffix", model="m")  # no request at start-up with a model named
    body = suffix.body(GenerationRequest([1, 2], text=text), 16)
    assert (body["prompt"], body["suffix"], body["max_tokens"], body["stream"]) == (text.prefix, text.suffix, 16, True)
    assert suffix.prompt_format.template.name == "suffix" and not suffix.prompt_format.repository_level
    qwen = OpenAIEngine("http://127.0.0.1:9/v1", tok, "auto", model="Qwen/Qwen2.5-Coder-1.5B")
    assert qwen.template is TEMPLATES["qwen"] and qwen.prompt_format.repository_level
    prompt = qwen.body(GenerationRequest([1], text=text), 8)["prompt"]
    assert prompt == ("<|file_sep|>util.py\ndef g():\n    pass\n<|file_sep|>main.py\n"
                      "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y\n<|fim_middle|>")
    assert "suffix" not in qwen.body(GenerationRequest([1], text=text), 8)
    assert render_text_prompt(TEMPLATES["deepseek"], text).startswith("<｜fim▁begin｜>def f(x)")  # no file separator


def test_errors_name_the_server() -> None:
    with pytest.raises(InputError, match="cannot reach the completions server at http://127.0.0.1:9/v1"):
        load_engine("openai", "http://127.0.0.1:9/v1")
    with pytest.raises(InputError, match="base URL"):
        load_engine("openai", "localhost:8080")
    with pytest.raises(InputError, match="needs --model"):
        load_engine("openai")
    with pytest.raises(InputError, match="cannot score"):
        OpenAIEngine("http://127.0.0.1:9/v1", CodeTokenizer.from_file(embedded_model_path() / "tokenizer.json"),
                     model="m").score([1], [[2]])
    with pytest.raises(InputError, match="for the openai backend only"):
        load_engine("hf", embedded_model_path(), options=EngineOptions(template="suffix"))
