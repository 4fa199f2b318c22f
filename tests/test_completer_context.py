"""Repository context in the completer: retrieval off is today's prompt; on, snippets share the
budget by priority, come in the training layout, and the debug window says which and why."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from forecode.completer import Completer, CompletionRequest
from forecode.context.assembly import PREFIX_FLOOR_SHARE, SNIPPET_SHARE
from forecode.context.workspaces import Workspaces
from forecode.engine.builtin import BuiltinEngine
from forecode.errors import InputError
from forecode.model.config import PRESETS
from forecode.model.llama import Llama
from forecode.tokenizer import CodeTokenizer
from forecode.train.data import CorpusFile, repo_document
from forecode.tokenizer.fim import FimOrder
from forecode.train.fim import fim_window, last_file_start, split_points

PRICING = "def apply_discount(price, rate):\n    return price * (1 - rate)\n"
CART = (
    "from shop.pricing import apply_discount\n\n\n"
    "def cart_total(items, rate):\n"
    "    subtotal = sum(items)\n"
    "    return apply_discount(subtotal, rate)\n"
)


def _engine(tokenizer: CodeTokenizer, block_size: int) -> BuiltinEngine:
    torch.manual_seed(0)
    return BuiltinEngine(Llama(replace(PRESETS["test"], vocab_size=tokenizer.vocab_size, block_size=block_size)).eval(), tokenizer)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return _write(tmp_path / "ws", {"shop/__init__.py": "", "shop/pricing.py": PRICING, "shop/cart.py": CART})


@pytest.fixture
def workspaces(tmp_path: Path) -> Iterator[Workspaces]:
    ws = Workspaces(cache_dir=tmp_path / "cache")
    yield ws
    ws.close()


def _request(root: Path, **kw: object) -> CompletionRequest:
    cursor = CART.index("apply_discount(subtotal")
    return CompletionRequest(CART, cursor, path="shop/cart.py", workspace_root=str(root), max_tokens=8, **kw)  # type: ignore[arg-type]


def test_retrieval_off_is_exactly_the_prompt_without_a_workspace(
    tiny_tokenizer: CodeTokenizer, workspace: Path, workspaces: Workspaces
) -> None:
    engine = _engine(tiny_tokenizer, 512)
    plain = Completer(engine)
    with_ws = Completer(engine, workspaces)
    cursor = CART.index("apply_discount(subtotal")
    today = plain.build_prompt(CART, cursor, 8)
    for request in (_request(workspace, context_sources=()), replace(_request(workspace), workspace_root=None)):
        built = with_ws.build_prompt(request.text, request.cursor, request.max_tokens, path=request.path,
                                     workspace_root=request.workspace_root, context_sources=request.context_sources)
        assert built.ids == today.ids and built.backed_off == today.backed_off and built.context is None
        debug = with_ws.complete(request).debug
        assert debug["prompt"] == plain.complete(replace(request, workspace_root=None)).debug["prompt"]
        assert debug["context"]["retrieval"] == "off" and debug["context"]["snippets"] == []
    # a workspace given to a completer with no registry: off, and the debug window says why
    assert plain.complete(_request(workspace)).debug["context"]["why"] == "the completer has no workspace registry"


def test_retrieval_on_puts_the_definition_first_in_the_file_separator_layout(
    tiny_tokenizer: CodeTokenizer, workspace: Path, workspaces: Workspaces
) -> None:
    completer = Completer(_engine(tiny_tokenizer, 512), workspaces)
    debug = completer.complete(_request(workspace)).debug
    prompt, ctx = debug["prompt"], debug["context"]
    assert ctx["retrieval"] == "on" and ctx["sources"] == ["definition", "bm25", "recent"]
    [snippet] = [s for s in ctx["snippets"] if s["source"] == "definition"]
    assert snippet["path"] == "shop/pricing.py" and "apply_discount" in snippet["why"] and snippet["tokens"] > 1
    assert prompt.startswith("<|file_sep|>shop/pricing.py\ndef apply_discount(price, rate):")
    assert "<|file_sep|>shop/cart.py\n<|fim_prefix|>from shop.pricing import apply_discount" in prompt
    assert prompt.endswith("<|fim_middle|>")
    assert ctx["window_lines"][0] == 1  # the whole of cart.py is in the window ...
    assert all(s["path"] != "shop/cart.py" for s in ctx["snippets"])  # ... so none of it comes back
    assert sum(s["tokens"] for s in ctx["snippets"]) <= ctx["snippet_tokens"] <= ctx["snippet_budget"]
    assert debug["timings"]["retrieval_ms"] >= 0
    # each source can be switched off
    only_bm25 = completer.complete(_request(workspace, context_sources=("bm25",))).debug["context"]
    assert {s["source"] for s in only_bm25["snippets"]} <= {"bm25"}


def test_what_the_window_holds_never_comes_back_as_a_snippet(
    tiny_tokenizer: CodeTokenizer, tmp_path: Path, workspaces: Workspaces
) -> None:
    far = "".join(f"def filler_{i}(v):\n    return v + {i}\n\n\n" for i in range(30))
    text = "def scale_value(v):\n    return v * 2\n\n\n" + far + "def run(v):\n    return scale_value(v)\n"
    root = _write(tmp_path / "one", {"m.py": text})
    completer = Completer(_engine(tiny_tokenizer, 256), workspaces)
    request = CompletionRequest(text, text.index("scale_value(v)\n"), path="m.py", workspace_root=str(root), max_tokens=8)
    ctx = completer.complete(request).debug["context"]
    first, last = ctx["window_lines"]
    assert first > 2 and ctx["excluded"] == {"path": "m.py", "lines": [first, last], "why": "overlap"}
    # the definition of scale_value, far above the window, is retrieved; nothing inside the window is
    assert any(s["source"] == "definition" and s["path"] == "m.py" and s["start_line"] == 1 for s in ctx["snippets"])
    assert all(s["end_line"] < first or s["start_line"] > last for s in ctx["snippets"] if s["path"] == "m.py")


def test_the_budget_keeps_the_prefix_and_caps_the_snippets(
    tiny_tokenizer: CodeTokenizer, tmp_path: Path, workspaces: Workspaces
) -> None:
    helpers = "".join(f"def apply_discount_{i}(price, rate):\n    return price * (1 - rate) + {i}\n\n\n" for i in range(40))
    body = "".join(f"total_{i} = apply_discount_{i}(price, rate)\n" for i in range(80))
    root = _write(tmp_path / "big", {"helpers.py": helpers, "main.py": body})
    engine = _engine(tiny_tokenizer, 256)
    completer = Completer(engine, workspaces)
    request = CompletionRequest(body, len(body), path="main.py", workspace_root=str(root), max_tokens=8)
    built = completer.build_prompt(request.text, request.cursor, 8, path="main.py", workspace_root=str(root),
                                   context_sources=request.context_sources)
    budget = engine.context_length - built.max_new - 3
    assert built.context is not None and built.context.files
    assert built.context.snippet_tokens <= budget * SNIPPET_SHARE
    assert len(built.window.prefix_ids) >= int(budget * PREFIX_FLOOR_SHARE)
    assert len(built.ids) <= budget + 3
    assert any(why == "budget" for _, why in built.context.dropped)  # 40 helpers do not all fit


def test_unknown_context_source_is_an_input_error() -> None:
    with pytest.raises(InputError, match="context sources must be among definition, bm25, recent, not 'vector'"):
        CompletionRequest("x", 1, context_sources=("bm25", "vector"))


@pytest.mark.parametrize("order", ["psm", "spm"])
def test_training_and_the_completer_lay_out_the_same_tokens(
    tiny_tokenizer: CodeTokenizer, workspace: Path, workspaces: Workspaces, order: FimOrder
) -> None:
    """The packer's example for cart.py with pricing.py before it is the completer's prompt
    (for the cursor at the example's split, pricing.py retrieved) followed by the middle."""
    sp = tiny_tokenizer.special
    ids = repo_document([CorpusFile(PRICING, "shop/pricing.py", "shop"), CorpusFile(CART, "shop/cart.py", "shop")], tiny_tokenizer)
    start = last_file_start(ids, tiny_tokenizer)
    engine = _engine(tiny_tokenizer, 1024)
    engine.fim_order = order
    completer = Completer(engine, workspaces)
    checked = 0
    for seed in range(60):
        out = fim_window(ids, tiny_tokenizer, random.Random(seed), 1.0, 1.0 if order == "spm" else 0.0, pad=-1, repo=True)
        replay = random.Random(seed)
        replay.random()
        a, b = split_points(len(CART), replay)  # where fim_piece cut cart.py
        body = [t for t in out[start:] if t >= 0]
        if a == b or sp.fim_middle not in body:
            continue
        suffix_ids = body[body.index(sp.fim_suffix) + 1 : body.index(sp.fim_middle)]  # the far end trimmed to fit
        middle_ids = tiny_tokenizer.encode(CART[a:b])
        if body[len(body) - len(middle_ids) :] != middle_ids or tiny_tokenizer.decode(body).count(CART[:a]) != 1:
            continue  # the prefix was trimmed too: not a cursor an editor would send
        document = CART[:a] + tiny_tokenizer.decode(suffix_ids)
        workspaces.get(workspace).update_document("shop/cart.py", document)  # as the editor sends it
        built = completer.build_prompt(document, a, 8, heal=False, path="shop/cart.py",
                                       workspace_root=str(workspace), context_sources=("definition", "bm25"))
        assert built.context is not None
        if [f.snippet.path for f in built.context.files] != ["shop/pricing.py"]:
            continue  # retrieval found nothing to go on in this short document: another layout
        assert built.context.files[0].snippet.text + "\n" == PRICING  # the whole file, as the packer has it
        assert [t for t in out if t >= 0] == [*built.ids, *middle_ids], seed
        checked += 1
    assert checked >= 5
