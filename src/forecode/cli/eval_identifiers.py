"""`forecode eval identifiers`: rank the name after `obj.` against jedi (eval/identifiers.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click

from forecode.engine.loading import EngineSpec
from forecode.cli.eval import load_completer, model_options, report_options
from forecode.errors import InputError
from forecode.eval import identifiers as ev


@click.command("identifiers")
@click.option("--source", "sources", multiple=True, type=click.Path(path_type=Path),
              help="Folder of Python code to take positions from (repeatable; default: the held-out "
                   "packages click, jinja2, attrs and networkx as installed here).")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True, help="Positions to score.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draw of positions.")
@click.option("--max-candidates", type=click.IntRange(min=1), default=ev.MAX_CANDIDATES, show_default=True,
              help="Candidates the model scores per position, the first of jedi's list.")
@click.option("--scoring", type=click.Choice(ev.SCORINGS), default=ev.SCORINGS[0], show_default=True,
              help="name: log P(name); name+eot: log P(name, then the end of the middle); mean: name+eot per token.")
@model_options
@report_options
def identifiers(
    sources: tuple[Path, ...], limit: int, seed: int, max_candidates: int, scoring: str,
    engine: EngineSpec, as_json: bool, out: Path | None,
) -> None:
    """Top-1 and top-5 accuracy at completing `obj.name` in held-out code, the model against jedi.

    At each sampled attribute access the name is deleted and the cursor put after the dot; jedi
    lists candidates there, and the model ranks jedi's list by the log-probability of each name
    as the middle of the Completer's FIM prompt. Accuracies are fractions in [0, 1].
    """
    from tqdm import tqdm

    from forecode.eval.report import SampleLog, emit_metrics

    folders = list(sources) if sources else ev.held_out_sources()
    files = ev.python_files(folders)  # checks the folders before the model loads
    sites = ev.sample_sites(files, limit, seed)
    if not sites:
        raise InputError(f"no attribute accesses (obj.name) in the Python files under {', '.join(map(str, folders))}")
    settings = {"scoring": scoring, "max_candidates": max_candidates}
    with SampleLog(out) as log:
        for rec in log.records():  # one file holds one configuration's samples
            if any(rec.get(k) != v for k, v in settings.items()):
                raise InputError(
                    f"{out} holds {rec['task_id']} scored with {', '.join(f'{k}={rec.get(k)}' for k in settings)}, "
                    f"not {', '.join(f'{k}={v}' for k, v in settings.items())}; pass another --out"
                )
        completer = load_completer(engine)
        scorer = ev.ModelScorer(completer.engine, cast("ev.Scoring", scoring))
        jedi = ev.JediCompleter()
        task_ids: list[str] = []
        for site, text in tqdm(ev.texts_by_path(sites), total=len(sites), desc="identifiers", unit="pos", file=sys.stderr):
            task_ids.append(site.task_id(text))
            if (task_ids[-1], 0) not in log.done:
                log.write({**ev.evaluate_site(site, text, jedi, scorer, max_candidates), **settings})
        records = [log.done[(t, 0)] for t in task_ids]
    metrics = ev.summarize(records)
    metrics.update(settings)
    emit_metrics(metrics, as_json, f"identifiers: {len(records)} positions, model ({scoring}) against jedi")


COMMANDS: list[click.Command] = [identifiers]
