"""`forecode bench ...`: load and speed measurements of the running system, one module per
subcommand, assembled here."""

from __future__ import annotations

import click


@click.group()
def bench() -> None:
    """Measure forecode under load."""


def register() -> None:
    from forecode.cli.bench_engine import bench_engine
    from forecode.cli.bench_serve import bench_serve

    bench.add_command(bench_serve)
    bench.add_command(bench_engine)
