"""`forecode bench serve`: a bounded load test of `forecode serve` on loopback.

The server runs as a subprocess (so its resident memory is its own) on a free port; N client
threads send /v1/code/completions requests made from real source files, each client one editor
(its own document id) sending its next request when the last is answered.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from forecode.engine.loading import BACKENDS
from forecode.errors import ForecodeError, InputError

STARTUP_TIMEOUT_S = 180.0
MAX_FILE_BYTES = 64 * 1024
MAX_FILES = 300


@dataclass(frozen=True)
class LoadReport:
    clients: int
    duration_s: float  # from the first request to the last answer
    requests: int
    errors: int
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    generated_tokens: int
    tokens_per_s: float
    server_rss_mib: float  # at the end
    server_peak_rss_mib: float
    model: str
    max_tokens: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def editor_requests(root: Path, count: int, max_tokens: int, seed: int) -> list[dict[str, Any]]:
    """Bodies for /v1/code/completions: a file as an editor holds it while its user types a line,
    the cursor somewhere in that line and the rest of the line not yet written."""
    rng = random.Random(seed)
    files = sorted(p for p in root.rglob("*.py") if "test" not in p.parts and 512 < p.stat().st_size <= MAX_FILE_BYTES)
    if not files:
        raise InputError(f"no Python files between 512 bytes and {MAX_FILE_BYTES} bytes under {root}")
    files = rng.sample(files, min(MAX_FILES, len(files)))
    bodies: list[dict[str, Any]] = []
    while len(bodies) < count:
        path = rng.choice(files)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        starts = [m.start() for m in re.finditer(r"^[ \t]*\S.{8,}$", text, re.MULTILINE)]
        if not starts:
            continue
        start = rng.choice(starts)
        end = text.index("\n", start) if "\n" in text[start:] else len(text)
        indent = len(text[start:end]) - len(text[start:end].lstrip())
        cursor = rng.randint(start + indent + 1, end - 1)
        bodies.append({"text": text[:cursor] + text[end:], "cursor": cursor, "path": str(path.relative_to(root)),
                       "language": "python", "workspace_root": str(root), "max_tokens": max_tokens})
    return bodies


def resident_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_server(port: int, root: Path, backend: str, model_path: Path | None, threads: int | None) -> subprocess.Popen[bytes]:
    # --no-index: the load test measures generation and queueing; indexing the files the requests
    # are drawn from (the standard library by default) is docs/INDEX.md's benchmark.
    cmd = [sys.executable, "-m", "forecode.cli", "serve", "--port", str(port), "--root", str(root),
           "--backend", backend, "--log-level", "warning", "--no-index"]
    if model_path is not None:
        cmd += ["--model", str(model_path)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    env = {k: v for k, v in os.environ.items() if k != "FORECODE_TOKEN"}  # loopback: no token needed
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_until_healthy(proc: subprocess.Popen[bytes], base: str) -> str:
    """The model's name, once /health answers."""
    import httpx

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise ForecodeError(f"the server exited with code {proc.returncode} before answering: {err.strip()[-800:]}")
        try:
            return str(httpx.get(f"{base}/health", timeout=1.0).json()["model"])
        except httpx.HTTPError:
            time.sleep(0.2)
    raise ForecodeError(f"the server did not answer /health within {STARTUP_TIMEOUT_S:.0f} s")


def generated_tokens(base: str) -> int:
    import httpx

    text = httpx.get(f"{base}/metrics", timeout=10.0).text
    return int(sum(float(m) for m in re.findall(r"^forecode_generated_tokens_total\{[^}]*\} (\S+)$", text, re.MULTILINE)))


def run_clients(base: str, bodies: list[dict[str, Any]], clients: int, duration_s: float) -> tuple[list[float], list[str], float]:
    """(latencies in ms of the answered requests, error messages, seconds from start to the last answer)."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    stop_at = t0 + duration_s

    def client(k: int) -> None:
        rng = random.Random(k)
        with httpx.Client(base_url=base, timeout=120.0) as http:
            while time.perf_counter() < stop_at:
                body = dict(rng.choice(bodies), document_id=f"bench-client-{k}")
                t = time.perf_counter()
                try:
                    r = http.post("/v1/code/completions", json=body)
                    ok, why = r.status_code == 200, f"{r.status_code}: {r.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, why = False, f"{type(exc).__name__}: {exc}"
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    (latencies.append(ms) if ok else errors.append(why))

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return latencies, errors, time.perf_counter() - t0


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


@click.command("serve")
@click.option("--clients", type=click.IntRange(min=1, max=256), default=8, show_default=True)
@click.option("--duration", "duration_s", type=click.FloatRange(min=0.5), default=60.0, show_default=True, help="Seconds of load.")
@click.option("--backend", type=click.Choice(BACKENDS), default="builtin", show_default=True)
@click.option("--model", "model_path", type=click.Path(path_type=Path, exists=True), default=None,
              help="Checkpoint folder or n-gram file (default: the embedded forecode-tiny).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for the server's model.")
@click.option("--files", "files_root", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Folder of Python files the requests are made from (default: the standard library).")
@click.option("--max-tokens", type=click.IntRange(min=1, max=1024), default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object, the last line of output.")
def bench_serve(clients: int, duration_s: float, backend: str, model_path: Path | None, threads: int | None,
                files_root: Path | None, max_tokens: int, seed: int, as_json: bool) -> None:
    """Load `forecode serve` on loopback with CLIENTS concurrent editors for DURATION seconds."""
    root = (files_root or Path(sysconfig.get_paths()["stdlib"])).resolve()
    bodies = editor_requests(root, 400, max_tokens, seed)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, root, backend, model_path, threads)
    try:
        model = wait_until_healthy(proc, base)
        click.echo(f"server up ({model}, pid {proc.pid}); {clients} clients for {duration_s:g} s", err=True)
        latencies, errors, elapsed = run_clients(base, bodies, clients, duration_s)
        rss, peak = resident_mib(proc.pid)
        tokens = generated_tokens(base)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    done = len(latencies)
    report = LoadReport(
        clients=clients, duration_s=round(elapsed, 2), requests=done + len(errors), errors=len(errors),
        throughput_rps=round(done / elapsed, 2), p50_ms=round(percentile(latencies, 50), 1),
        p95_ms=round(percentile(latencies, 95), 1), max_ms=round(max(latencies, default=0.0), 1),
        generated_tokens=tokens, tokens_per_s=round(tokens / elapsed, 1),
        server_rss_mib=round(rss, 1), server_peak_rss_mib=round(peak, 1), model=model, max_tokens=max_tokens)
    click.echo(f"{report.requests} requests in {report.duration_s} s: {report.throughput_rps} req/s, "
               f"p50 {report.p50_ms} ms, p95 {report.p95_ms} ms, max {report.max_ms} ms, {report.errors} errors; "
               f"{report.generated_tokens} tokens ({report.tokens_per_s}/s); "
               f"server RSS {report.server_rss_mib} MiB (peak {report.server_peak_rss_mib} MiB)")
    for why in errors[:5]:
        click.echo(f"  error: {why}", err=True)
    if as_json:
        click.echo(json.dumps(asdict(report)))
    if errors:
        raise ForecodeError(f"{len(errors)} of {report.requests} requests failed; the first: {errors[0]}")
