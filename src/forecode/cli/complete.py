"""`forecode complete FILE:LINE:COL`: print a suggestion for that position."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from forecode.completer import CompletionRequest
from forecode.documents import decode_source, offset_of, parse_position, read_source
from forecode.cli.engine_options import engine_options
from forecode.engine.loading import EngineSpec
from forecode.errors import InputError


@click.command()
@click.argument("position", required=False)
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the document from standard input (with --line and --col).")
@click.option("--line", type=int, default=None, help="1-based line, with --stdin.")
@click.option("--col", type=int, default=None, help="1-based column in characters, with --stdin.")
@click.option("--max-tokens", type=click.IntRange(min=1, max=1024), default=64, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.0, show_default=True, help="0 is greedy.")
@click.option("--top-p", type=click.FloatRange(min=0, max=1, min_open=True), default=1.0, show_default=True)
@click.option("--seed", type=int, default=None)
@click.option("-n", "n", type=click.IntRange(min=1, max=16), default=1, show_default=True, help="Suggestions to generate (sampled when temperature > 0).")
@engine_options()
@click.option("--json", "as_json", is_flag=True, help="Print suggestions with per-token log-probabilities, timings and the debug window.")
def complete(
    position: str | None, from_stdin: bool, line: int | None, col: int | None, engine: EngineSpec,
    max_tokens: int, temperature: float, top_p: float, seed: int | None, n: int, as_json: bool,
) -> None:
    """Complete code at POSITION, given as FILE:LINE:COL (1-based, as compilers print it)."""
    if from_stdin:
        if position is not None or line is None or col is None:
            raise InputError("--stdin takes --line and --col, and no FILE:LINE:COL")
        text = decode_source(sys.stdin.buffer.read(), "standard input")
        path = None
    else:
        if position is None:
            raise InputError("give FILE:LINE:COL, or --stdin with --line and --col")
        file, line, col = parse_position(position)
        text = read_source(file)
        path = str(file)
    cursor = offset_of(text, line, col)
    request = CompletionRequest(text=text, cursor=cursor, path=path, max_tokens=max_tokens,
                                temperature=temperature, top_p=top_p, seed=seed, n=n)

    from forecode.completer import Completer

    result = Completer(engine.load()).complete(request)
    if as_json:
        click.echo(json.dumps({"suggestions": [asdict(s) for s in result.suggestions], "debug": result.debug}, ensure_ascii=False))
    else:
        for s in result.suggestions:
            click.echo(s.text)
