"""`forecode bench engine`: how fast each engine completes code on this machine.

Two scenarios, each engine in a process of its own (so its resident memory and threads are its
own), every engine on the same weights:

- typical: SPM FIM prompts of about 1,500 tokens cut from standard-library files, 24 new tokens
  each (greedy). The shipped model has 1,024 positions, so this runs same-shape random weights
  (forecode-tiny's shape and tokenizer, 2,048 positions), saved once as a checkpoint folder in a
  temporary folder (and exported to GGUF for llama.cpp) that every engine loads;
- keystrokes: a document that grows by one character per request, as an editor sends it while
  its user types a line, through the Completer (window, healing, scope cut, filters), on the
  shipped model. The first keystroke of a line is cold; the rest may reuse caches.

Engines: the built-in one with its prefix cache and prompt lookup (builtin), with the cache
alone (builtin-cache), with neither (builtin-plain); transformers' `generate` on the checkpoint
folder loaded as LlamaForCausalLM (hf-generate); llama.cpp through llama-cpp-python on the
exported GGUF (llamacpp: forecode's llamacpp backend, which keeps llama.cpp's KV cache between
requests as its server's cache_prompt does).

Reported per scenario and engine: prefill tokens/s (prompt tokens computed, that is without
those reused from a cache, over prefill time), decode tokens/s (tokens after the first over
decode time), end-to-end p50 and p95 in ms (a generate call; a whole Completer request for
keystrokes), peak resident memory (VmHWM, MiB) and p50 over llama.cpp's p50.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from forecode.cli.bench_serve import percentile
from forecode.engine.base import Engine, Generation, GenerationRequest
from forecode.errors import ForecodeError, InputError
from forecode.tokenizer import CodeTokenizer
from forecode.tokenizer.fim import fim_prompt
from forecode.tokenizer.templates import PromptFormat

ENGINES = ("builtin", "builtin-cache", "builtin-plain", "hf-generate", "llamacpp")
SCENARIOS = ("typical", "keystrokes")
LONG_POSITIONS = 2048  # the random-weight model of the typical scenario: its block_size
KEYS_PER_LINE = 20  # characters typed per line in the keystroke scenario, before moving to the next file
MIN_KEYSTROKE_FILE_BYTES = 8192  # files long enough that the prompt window is cut, as in real files
WORKER_TIMEOUT_S = 1800.0
METRICS = ("prefill_tok_s", "decode_tok_s", "p50_ms", "p95_ms", "rss_mb", "ratio_vs_llamacpp")


# -- workloads: the same for every engine --------------------------------------------------------

def stdlib_files(min_bytes: int) -> list[Path]:
    """Python files of the standard library (not tests), in a fixed order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.glob("*.py") if p.stat().st_size >= min_bytes)


def typical_prompts(tokenizer: CodeTokenizer, count: int, prompt_tokens: int) -> list[list[int]]:
    """`count` SPM prompts of `prompt_tokens` tokens: a quarter suffix, the rest prefix, around
    a cursor two thirds into a standard-library file (one file per prompt)."""
    if prompt_tokens < 8:
        raise InputError(f"--prompt-tokens must be at least 8, not {prompt_tokens}")
    n_suffix = (prompt_tokens - 3) // 4
    n_prefix = prompt_tokens - 3 - n_suffix
    prompts = []
    for path in stdlib_files(16 * 1024):
        ids = tokenizer.encode(path.read_text(encoding="utf-8", errors="replace"))
        if len(ids) < prompt_tokens + 16:
            continue
        cursor = max(n_prefix, min(len(ids) - n_suffix, 2 * len(ids) // 3))
        prompts.append(fim_prompt(ids[cursor - n_prefix : cursor], ids[cursor : cursor + n_suffix], tokenizer.special, "spm"))
        if len(prompts) == count + 1:  # one more, for the warm-up
            return prompts
    raise InputError(f"the standard library has too few files of {prompt_tokens} tokens for {count} prompts")


@dataclass(frozen=True)
class Keystroke:
    text: str
    cursor: int
    path: str


def keystroke_documents(count: int) -> list[Keystroke]:
    """`count` editor states: lines of long standard-library files typed one character at a time
    (KEYS_PER_LINE characters of each, the rest of the line not yet written), one line per file."""
    out: list[Keystroke] = []
    for path in stdlib_files(MIN_KEYSTROKE_FILE_BYTES):
        text = path.read_text(encoding="utf-8", errors="replace")
        later = [m for m in re.finditer(r"^([ \t]*)\S.{30,}$", text, re.MULTILINE) if m.start() > len(text) * 2 // 3]
        if not later:
            continue
        line = later[0]
        start, end = line.start() + len(line.group(1)), line.end()
        for cursor in range(start + 1, min(end, start + KEYS_PER_LINE) + 1):
            out.append(Keystroke(text[:cursor] + text[end:], cursor, path.name))
            if len(out) == count:
                return out
    raise InputError(f"the standard library has too few long files for {count} keystrokes")


# -- engines ---------------------------------------------------------------------------------

class TransformersGenerate:
    """transformers' `generate` (greedy) as an Engine: healing by a logits processor, the
    completer's stop rule and cancellation by a stopping criterion, the log-probability of each
    chosen token from the processed scores. No cache survives a request."""

    def __init__(self, folder: Path) -> None:
        import torch
        from transformers import LlamaForCausalLM

        from forecode.model.config import ModelConfig
        from forecode.tokenizer.healing import TokenHealer

        self.model = LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.float32, local_files_only=True)
        self.model.eval()  # type: ignore[no-untyped-call]
        # the tokenizer, FIM order and lengths as the builtin engine sees them
        config = ModelConfig.from_hf(json.loads((folder / "config.json").read_text()))
        meta = json.loads((folder / "forecode.json").read_text())
        self._tokenizer = CodeTokenizer.from_file(folder / "tokenizer.json")
        self._format = PromptFormat.forecode(self._tokenizer.special, meta.get("fim_order", "psm"))
        self._context_length = config.block_size
        self._positions = 2 * config.block_size  # as forecode.model.llama's RoPE tables
        self.healer = TokenHealer(self._tokenizer)

    @property
    def tokenizer(self) -> CodeTokenizer:
        return self._tokenizer

    @property
    def prompt_format(self) -> PromptFormat:
        return self._format

    @property
    def context_length(self) -> int:
        return self._context_length

    def generate(self, request: GenerationRequest) -> Generation:
        import torch
        from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

        from forecode.engine.decoding import DecodeState, check_room

        if request.temperature > 0:
            raise InputError("the hf-generate bench engine is greedy only")
        max_new = check_room(request, self._positions)
        state = DecodeState(self._tokenizer, request)
        vocab = self._tokenizer.vocab_size
        healer = self.healer
        seen: dict[str, Any] = {"first": None, "logp": None}

        class Heal(LogitsProcessor):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
                if seen["first"] is None:
                    seen["first"] = time.perf_counter()
                scores = scores.clone()
                scores[:, vocab:] = float("-inf")
                if state.remaining:
                    masked = torch.full_like(scores, float("-inf"))
                    allowed = torch.tensor(healer.allowed(state.remaining))
                    masked[:, allowed] = scores[:, allowed]
                    scores = masked
                seen["logp"] = torch.log_softmax(scores[0].float(), dim=-1)
                return scores

        class Stop(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
                token = int(input_ids[0, -1])
                stop = state.add(token, float(seen["logp"][token])) or len(state.ids) >= max_new
                return torch.tensor([stop])

        t0 = time.perf_counter()
        with torch.inference_mode():
            self.model.generate(torch.tensor([request.prompt_ids]), max_new_tokens=max_new, do_sample=False,
                                logits_processor=LogitsProcessorList([Heal()]), stopping_criteria=StoppingCriteriaList([Stop()]),
                                eos_token_id=None, pad_token_id=self._tokenizer.special.eot, use_cache=True)
        t2 = time.perf_counter()
        t1 = seen["first"] or t2
        return Generation(state.ids, state.text, state.logprobs, state.finish, len(request.prompt_ids),
                          (t1 - t0) * 1000, (t2 - t1) * 1000)

    def score(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        raise InputError("the hf-generate bench engine does not score")


def load_bench_engine(name: str, folder: Path, gguf: Path | None, threads: int | None) -> Engine:
    """The engine `name` on checkpoint `folder` (llamacpp: on its export `gguf`)."""
    if name.startswith("builtin"):
        from forecode.engine.builtin import BuiltinEngine

        return BuiltinEngine.from_checkpoint(folder, threads, prefix_cache=name != "builtin-plain",
                                             prompt_lookup=name == "builtin")
    if name == "hf-generate":
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        try:
            return TransformersGenerate(folder)
        except ImportError as exc:
            raise InputError(f"transformers is not installed ({exc})") from None
    if name == "llamacpp":
        if gguf is None:
            raise InputError("no GGUF file")
        from forecode.engine.loading import load_engine

        return load_engine("llamacpp", gguf, threads=threads)
    raise InputError(f"unknown engine {name!r}; choose among {', '.join(ENGINES)}")


# -- one engine, one scenario: the worker process --------------------------------------------------

def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summarise(gens: list[Generation], wall_ms: list[float]) -> dict[str, Any]:
    computed = sum(g.prompt_tokens - g.cached_tokens for g in gens)
    prefill_s = sum(g.prefill_ms for g in gens) / 1000
    decoded = sum(max(0, len(g.token_ids) - 1) for g in gens)
    decode_s = sum(g.decode_ms for g in gens) / 1000
    return {
        "prefill_tok_s": round(computed / prefill_s, 1) if prefill_s > 0 else None,
        "decode_tok_s": round(decoded / decode_s, 1) if decode_s > 0 and decoded else None,
        "p50_ms": round(percentile(wall_ms, 50), 2),
        "p95_ms": round(percentile(wall_ms, 95), 2),
        "requests": len(gens),
        "mean_prompt_tokens": round(statistics.mean(g.prompt_tokens for g in gens), 1),
        "mean_cached_tokens": round(statistics.mean(g.cached_tokens for g in gens), 1),
        "mean_new_tokens": round(statistics.mean(len(g.token_ids) for g in gens), 2),
    }


class Recording:
    """Passes generate calls through to an engine and keeps their Generations."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.generations: list[Generation] = []

    @property
    def tokenizer(self) -> Any:
        return self.engine.tokenizer

    @property
    def prompt_format(self) -> PromptFormat:
        return self.engine.prompt_format

    @property
    def context_length(self) -> int:
        return self.engine.context_length

    def generate(self, request: GenerationRequest) -> Generation:
        gen = self.engine.generate(request)
        self.generations.append(gen)
        return gen

    def score(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        return self.engine.score(prompt_ids, continuations)


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    folder = Path(spec["folder"])
    gguf = Path(spec["gguf"]) if spec.get("gguf") else None
    engine = load_bench_engine(spec["engine"], folder, gguf, spec.get("threads"))
    tokenizer = CodeTokenizer.from_file(folder / "tokenizer.json")
    wall: list[float] = []
    if spec["scenario"] == "typical":
        prompts = typical_prompts(tokenizer, spec["repeats"], spec["prompt_tokens"])
        gens = []
        for i, prompt in enumerate(prompts):
            t = time.perf_counter()
            gen = engine.generate(GenerationRequest(prompt, max_new_tokens=spec["new_tokens"]))
            if i:  # the first is a warm-up
                wall.append((time.perf_counter() - t) * 1000)
                gens.append(gen)
    else:
        from forecode.completer import Completer, CompletionRequest

        recording = Recording(engine)
        completer = Completer(recording)
        for key in keystroke_documents(spec["keystrokes"]):
            t = time.perf_counter()
            completer.complete(CompletionRequest(key.text, key.cursor, path=key.path, language="python"))
            wall.append((time.perf_counter() - t) * 1000)
        gens = recording.generations
    return {**summarise(gens, wall), "rss_mb": round(peak_rss_mib(), 1), "torch_loaded": "torch" in sys.modules}


def run_in_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """A worker's result, or why the engine is unavailable."""
    cmd = [sys.executable, "-m", "forecode.cli.bench_engine", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"unavailable": f"did not finish within {WORKER_TIMEOUT_S:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        err = proc.stderr.strip().splitlines()
        return {"unavailable": f"the worker exited with code {proc.returncode}: {err[-1] if err else 'no output'}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# -- the command -------------------------------------------------------------------------------

def random_checkpoint(out: Path, positions: int) -> Path:
    """forecode-tiny's shape and tokenizer with random weights and `positions` trained positions."""
    from dataclasses import replace

    import torch

    from forecode.model.checkpoint import load_checkpoint, save_checkpoint
    from forecode.model.embedded import embedded_model_path
    from forecode.model.llama import Llama

    shipped = load_checkpoint(embedded_model_path())
    torch.manual_seed(0)
    model = Llama(replace(shipped.model.config, block_size=positions))
    return save_checkpoint(out, model, shipped.tokenizer, {"fim_order": shipped.meta.get("fim_order", "spm")})


def export_for_llamacpp(folder: Path, out: Path, dtype: str) -> tuple[Path | None, str]:
    """(the GGUF file, "") or (None, why not)."""
    try:
        from forecode.model.export_gguf import export_gguf
    except ImportError as exc:
        return None, f"the GGUF exporter is not available ({exc})"
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return None, "llama-cpp-python is not installed (pip install 'forecode[llamacpp]')"
    try:
        return export_gguf(folder, out, dtype), ""
    except (ForecodeError, ValueError, OSError) as exc:
        return None, f"the GGUF export failed: {exc}"


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"cpu": model, "cores": os.cpu_count(), "load_average_1min": round(load[0], 2), "python": platform.python_version()}


def _names(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise InputError(f"unknown {what} {', '.join(map(repr, unknown)) or repr(value)}; choose among {', '.join(allowed)}")
    return names


def _table(report: dict[str, Any]) -> list[str]:
    head = f"{'engine':15s} {'prefill tok/s':>13s} {'decode tok/s':>12s} {'p50 ms':>9s} {'p95 ms':>9s} {'RSS MiB':>8s} {'x llama.cpp':>11s}"
    out: list[str] = []

    def cell(v: Any, width: int) -> str:
        return f"{v:>{width}}" if v is not None else f"{'-':>{width}}"

    for name, scenario in report["scenarios"].items():
        out += ["", f"{name}: {scenario['workload']}", f"  model: {scenario['model']}", "  " + head]
        for engine, row in scenario["engines"].items():
            if row.get("unavailable"):
                out.append(f"  {engine:15s} unavailable: {row['unavailable']}")
                continue
            ratio = f"{row['ratio_vs_llamacpp']:.2f}" if row.get("ratio_vs_llamacpp") is not None else None
            out.append(f"  {engine:15s} {cell(row['prefill_tok_s'], 13)} {cell(row['decode_tok_s'], 12)} {cell(row['p50_ms'], 9)} "
                       f"{cell(row['p95_ms'], 9)} {cell(row['rss_mb'], 8)} {cell(ratio, 11)}")
    return out


@click.command("engine")
@click.option("--engines", "engine_names", default=",".join(ENGINES), show_default=True, help="Comma-separated, among these.")
@click.option("--scenarios", "scenario_names", default=",".join(SCENARIOS), show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for every engine (default: each engine's own, one per core).")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True, help="Prompts of the typical scenario (after one warm-up).")
@click.option("--keystrokes", type=click.IntRange(min=1), default=40, show_default=True, help="Requests of the keystroke scenario.")
@click.option("--prompt-tokens", type=click.IntRange(min=8, max=LONG_POSITIONS - 64), default=1500, show_default=True)
@click.option("--new-tokens", type=click.IntRange(min=1, max=64), default=24, show_default=True)
@click.option("--gguf-dtype", type=click.Choice(("f32", "f16", "q8_0")), default="f32", show_default=True,
              help="The GGUF llama.cpp runs (f32: the very weights the other engines run).")
@click.option("--json", "as_json", is_flag=True, help="Also print the report as one JSON object, the last line of output.")
def bench_engine(engine_names: str, scenario_names: str, threads: int | None, repeats: int, keystrokes: int,
                 prompt_tokens: int, new_tokens: int, gguf_dtype: str, as_json: bool) -> None:
    """Prefill and decode speed, latency and memory of each engine, in two scenarios."""
    engines = _names(engine_names, ENGINES, "engine")
    scenarios = _names(scenario_names, SCENARIOS, "scenario")
    from forecode.model.embedded import embedded_model_path

    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "threads": threads, "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="forecode-bench-engine-") as tmp:
        for scenario in scenarios:
            if scenario == "typical":
                folder = random_checkpoint(Path(tmp) / f"random-{LONG_POSITIONS}", LONG_POSITIONS)
                model = (f"random weights of forecode-tiny's shape (4 x 256) with {LONG_POSITIONS} positions "
                         "(the shipped model has 1,024), one checkpoint folder for every engine")
                workload = f"{repeats} SPM prompts of {prompt_tokens} tokens from the standard library, {new_tokens} new tokens, greedy"
            else:
                folder = embedded_model_path()
                model = f"the shipped forecode-tiny ({folder.name})"
                workload = (f"{keystrokes} keystrokes, {KEYS_PER_LINE} per line of a long standard-library file, "
                            "each a Completer request (pipeline post-processing)")
            gguf, why_not = None, ""
            if "llamacpp" in engines:
                gguf, why_not = export_for_llamacpp(folder, Path(tmp) / f"{scenario}.{gguf_dtype}.gguf", gguf_dtype)
                model += f"; llama.cpp: its GGUF export ({gguf_dtype})"
            rows: dict[str, dict[str, Any]] = {}
            for name in engines:
                click.echo(f"{scenario}: {name} ...", err=True)
                if name == "llamacpp" and gguf is None:
                    rows[name] = {"unavailable": why_not}
                    continue
                spec = {"engine": name, "scenario": scenario, "folder": str(folder), "gguf": str(gguf) if gguf else None,
                        "threads": threads, "repeats": repeats, "keystrokes": keystrokes,
                        "prompt_tokens": prompt_tokens, "new_tokens": new_tokens}
                rows[name] = run_in_worker(spec)
            base = rows.get("llamacpp", {}).get("p50_ms")
            for row in rows.values():
                for key in METRICS:
                    row.setdefault(key, None)
                if base and row.get("p50_ms") is not None:
                    row["ratio_vs_llamacpp"] = round(row["p50_ms"] / base, 3)
            report["scenarios"][scenario] = {"model": model, "workload": workload, "engines": rows}
    for line in _table(report):
        click.echo(line)
    if as_json:
        click.echo(json.dumps(report))


def _worker_main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    try:
        result = run_worker(spec)
    except ForecodeError as exc:
        result = {"unavailable": str(exc)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))

