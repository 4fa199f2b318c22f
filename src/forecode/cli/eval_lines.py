"""`forecode eval make-lines` (line tasks from real code) and `forecode eval lines` (score them)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from forecode.engine.loading import EngineSpec
from forecode.cli.eval import candidates_or_default, load_completer, model_options, postprocess_options, report_options
from forecode.context.retrieval import SOURCES
from forecode.context.workspaces import Workspaces
from forecode.errors import InputError
from forecode.eval.lines import DEFAULT_PER_FILE, make_line_tasks, read_tasks, score_line_tasks, write_tasks
from forecode.eval.report import SampleLog, emit_metrics


@click.command("make-lines")
@click.option("--source", "sources", type=click.Path(path_type=Path, exists=True, file_okay=False), multiple=True, required=True,
              help="A folder of Python code (a repository or package); repeat for more. Paths are relative to it.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="The task file (JSONL) to write.")
@click.option("--cross-file", is_flag=True, help="Keep only lines using a name that only another file of the same --source defines.")
@click.option("--per-file", type=click.IntRange(min=1), default=DEFAULT_PER_FILE, show_default=True, help="Tasks per file, on distinct lines.")
@click.option("--max-tasks", type=click.IntRange(min=1), default=None, help="Keep a seeded sample of this many tasks.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def make_lines(sources: tuple[Path, ...], out: Path, cross_file: bool, per_file: int, max_tasks: int | None,
               seed: int, quiet: bool) -> None:
    """Cut line-completion tasks from the Python files under each --source (format: docs/EVAL_TASKS.md)."""
    t0 = time.perf_counter()
    tasks, s = make_line_tasks(sources, cross_file=cross_file, per_file=per_file, max_tasks=max_tasks, seed=seed,
                               progress=not quiet)
    if not tasks:
        rule = " passed --cross-file" if cross_file else " could be cut"
        raise InputError(f"no task{rule} from the {s.files_read} files read; nothing written to {out}")
    write_tasks(tasks, out)
    skipped = ", ".join(f"{n} {reason}" for reason, n in s.skipped.most_common())
    click.echo(f"files: {s.files_read} read, {sum(s.skipped.values())} skipped" + (f" ({skipped})" if skipped else ""))
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(s.kinds.items()))
    capped = f", {s.sampled} before --max-tasks" if s.sampled != s.tasks else ""
    click.echo(f"tasks: {s.tasks} written to {out} ({kinds}; {s.positions} positions offered{capped}) "
               f"in {time.perf_counter() - t0:.1f}s")


def _parse_sources(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    if value.strip().lower() == "none":
        return ()
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [n for n in names if n not in SOURCES]
    if unknown or not names:
        raise click.BadParameter(f"expected `none` or some of {','.join(SOURCES)}, not {value!r}")
    return names


@click.command("lines")
@click.option("--tasks", "tasks_path", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="Task file (JSONL, see docs/EVAL_TASKS.md), e.g. from `forecode eval make-lines`.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Score only the first N tasks.")
@click.option("--max-tokens", type=click.IntRange(min=1, max=1024), default=48, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--workspace", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="The repository tasks without a `workspace` field belong to (their `path` is relative to it).")
@click.option("--context-sources", "context_sources", default=",".join(SOURCES), show_default=True, callback=_parse_sources,
              help="Retrieval's sources, comma-separated, or `none` for retrieval off.")
@click.option("--index-cache", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder for the workspace indexes' caches (default: ~/.cache/forecode/index).")
@model_options
@postprocess_options
@report_options
def lines(tasks_path: Path, limit: int | None, max_tokens: int, quiet: bool, workspace: Path | None,
          context_sources: tuple[str, ...], index_cache: Path | None, engine: EngineSpec,
          postprocess: str, candidates: int | None, as_json: bool, out: Path | None) -> None:
    """Line completion on real code: exact match and edit similarity (CodeXGLUE), in percent."""
    tasks = read_tasks(tasks_path)[:limit]
    with Workspaces(index_cache) as workspaces:
        completer = load_completer(engine, workspaces)
        with SampleLog(out) as log:
            metrics = score_line_tasks(completer, tasks, log, max_tokens=max_tokens, progress=not quiet,
                                       postprocess=postprocess, candidates=candidates_or_default(candidates),
                                       workspaces=workspaces, workspace=str(workspace) if workspace else None,
                                       context_sources=context_sources)
    emit_metrics(metrics, as_json, f"line completion: {tasks_path}")


COMMANDS: list[click.Command] = [make_lines, lines]
