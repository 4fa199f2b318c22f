"""The composition root: `forecode complete | corpus | tokenizer | train | eval`.

One module per command group, so each stays small; the group is assembled here.
"""

from __future__ import annotations

import sys

import click

from forecode import __version__
from forecode.errors import ForecodeError


@click.group()
@click.version_option(__version__, prog_name="forecode")
def cli() -> None:
    """Self-hosted code completion with its own small code model."""


def _register() -> None:
    from forecode.cli import bench, complete, corpus, serve, tokenizer, train
    from forecode.cli import eval as eval_cli

    eval_cli.register()
    cli.add_command(eval_cli.eval_group)
    cli.add_command(corpus.corpus)
    cli.add_command(tokenizer.tokenizer)
    cli.add_command(train.train)
    cli.add_command(complete.complete)
    cli.add_command(serve.serve)
    bench.register()
    cli.add_command(bench.bench)
    from forecode.cli import lsp as lsp_cli

    cli.add_command(lsp_cli.lsp)
    from forecode.cli import index as index_cli

    cli.add_command(index_cli.index_group)
    from forecode.cli.export import export

    cli.add_command(export)


def main(argv: list[str] | None = None) -> int:
    _register()
    try:
        cli.main(args=argv, prog_name="forecode", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except ForecodeError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
