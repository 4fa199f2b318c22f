"""`forecode eval latency`: how long `Completer.complete` takes at real positions (eval/latency.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from forecode.engine.loading import EngineSpec
from forecode.cli.eval import load_completer, model_options, report_options
from forecode.errors import InputError


@click.command("latency")
@click.option("--source", type=click.Path(path_type=Path), default=None,
              help="Folder of Python code to take positions from [default: a few standard-library files].")
@click.option("--positions", "n_positions", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1, max=1024), default=64, show_default=True,
              help="Most tokens per completion, as `forecode complete --max-tokens`.")
@click.option("--warmup", type=click.IntRange(min=0), default=2, show_default=True,
              help="Completions run first and not measured (first-call allocations, caches).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draw of positions.")
@model_options
@report_options
def latency(
    source: Path | None, n_positions: int, max_tokens: int, warmup: int, seed: int,
    engine: EngineSpec, as_json: bool, out: Path | None,
) -> None:
    """Completion latency in process: end to end (p50/p95/p99), to the first token, decode speed.

    Positions mix the start of a statement, the inside of a line and the first line of a block
    body, with the rest of the cursor's line removed as while typing. Times are milliseconds of
    wall clock on this machine, one completion at a time.
    """
    import torch
    from tqdm import tqdm

    from forecode.eval import latency as ev
    from forecode.eval.identifiers import python_files
    from forecode.eval.report import SampleLog, emit_metrics

    files = python_files([source]) if source is not None else ev.stdlib_files()
    positions = ev.sample_positions(files, n_positions, seed)
    with SampleLog(out) as log:
        for rec in log.records():  # one file holds one configuration's samples
            if rec.get("max_tokens") != max_tokens:
                raise InputError(f"{out} holds {rec['task_id']} measured with max_tokens={rec.get('max_tokens')}, "
                                 f"not {max_tokens}; pass another --out")
        completer = load_completer(engine)
        for i in range(warmup):
            ev.measure(completer, positions[i % len(positions)], max_tokens)
        for pos in tqdm(positions, desc="latency", unit="pos", file=sys.stderr):
            if (pos.task_id, pos.sample) not in log.done:
                log.write({**ev.measure(completer, pos, max_tokens), "max_tokens": max_tokens})
        records = [log.done[(p.task_id, p.sample)] for p in positions]
    metrics = ev.summarize(records, threads=torch.get_num_threads())
    emit_metrics(metrics, as_json, f"latency: {len(records)} completions, up to {max_tokens} tokens each")


COMMANDS: list[click.Command] = [latency]
