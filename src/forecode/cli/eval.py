"""`forecode eval ...`: the benchmarks, one module each, assembled into one group here.

Options every benchmark shares (which model, threads, --json, --out) are defined once below.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

from forecode.cli.engine_options import engine_options
from forecode.engine.loading import EngineSpec


def model_options(fn: F) -> F:
    """--engine, --model, --threads and the large-model options: what produces the completions
    being scored; the command receives them as `engine: EngineSpec`."""
    return engine_options("--engine")(fn)


def postprocess_options(fn: F) -> F:
    """--postprocess and --candidates: what the completer does with the model's text (see
    forecode.completer): raw output, the filter pipeline, or the pipeline over k ranked candidates."""
    fn = click.option("--candidates", type=click.IntRange(min=1, max=16), default=None,
                      help="k, the generations ranked with --postprocess ranked (default: the completer's).")(fn)
    fn = click.option("--postprocess", type=click.Choice(["raw", "pipeline", "ranked"]), default="pipeline", show_default=True,
                      help="raw: the model's text as it is; pipeline: scope cut and filters; ranked: pipeline over k candidates.")(fn)
    return fn


def candidates_or_default(candidates: int | None) -> int:
    from forecode.completer import DEFAULT_CANDIDATES

    return DEFAULT_CANDIDATES if candidates is None else candidates


def report_options(fn: F) -> F:
    """--json (metrics as one JSON object, the last line of output) and --out (per-sample JSONL)."""
    fn = click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
                      help="Per-sample JSONL; a rerun with the same file resumes, skipping finished samples.")(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object, the last line of output.")(fn)
    return fn


def load_completer(engine: EngineSpec, workspaces: Any = None) -> Any:
    """The Completer every benchmark scores, over the chosen engine (with `workspaces`, a
    forecode.context.workspaces.Workspaces, for repository context)."""
    from forecode.completer import Completer

    if engine.backend == "ngram" and engine.model is None:
        raise click.UsageError("--engine ngram needs --model FILE (made by `forecode eval ngram-build`)")
    return Completer(engine.load(), workspaces)


@click.group("eval")
def eval_group() -> None:
    """Benchmarks: HumanEval infilling, real-code lines, identifiers against jedi, latency, loss."""


def register() -> None:
    from forecode.cli import eval_humaneval, eval_identifiers, eval_latency, eval_lines, eval_loss, eval_ngram

    for module in (eval_humaneval, eval_lines, eval_identifiers, eval_latency, eval_ngram, eval_loss):
        for command in module.COMMANDS:
            eval_group.add_command(command)
