"""`forecode eval ngram-build`: the n-gram baseline, counted over the training split.

The split is the one training uses (`load_documents`, by a hash of each file's sha256), so the
baseline never sees the validation files either. Score the file with any benchmark's
`--engine ngram --model FILE`.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from forecode.engine.ngram import DEFAULT_ORDER, METHOD, build_ngram_model
from forecode.tokenizer import CodeTokenizer
from forecode.train.data import load_documents


@click.command("ngram-build")
@click.option("--corpus", required=True, type=click.Path(path_type=Path), help="Corpus folder from `forecode corpus build`.")
@click.option("--tokenizer", "tokenizer_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="tokenizer.json, the one the model being compared uses.")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The .npz file to write.")
@click.option("--order", type=click.IntRange(min=1), default=DEFAULT_ORDER, show_default=True,
              help="N of the N-grams (at most 4 for an 8192-token vocabulary: keys are 64-bit).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=None, help="Count only the first N tokens of the split.")
@click.option("--val-fraction", type=click.FloatRange(0, 0.5), default=0.01, show_default=True,
              help="Held out as in `forecode train`; must match it to keep the validation files unseen.")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Prune top-order n-grams seen fewer times (their mass goes to the lower orders).")
def ngram_build(corpus: Path, tokenizer_path: Path, out: Path, order: int, max_tokens: int | None,
                val_fraction: float, min_count: int) -> None:
    """Count 1..N-grams of the training split into an n-gram model file."""
    t0 = time.perf_counter()
    tokenizer = CodeTokenizer.from_file(tokenizer_path)
    train_docs, _ = load_documents(corpus, val_fraction)
    engine, summary = build_ngram_model(
        train_docs, tokenizer, order=order, max_tokens=max_tokens, min_count=min_count, total_documents=len(train_docs),
    )
    engine.save(out)
    size = out.stat().st_size
    counts = ", ".join(f"{k}-grams {n:,}" for k, n in enumerate(summary.ngrams, start=1))
    click.echo(f"Counted {summary.tokens:,} tokens of {summary.documents:,} documents: {counts}.")
    click.echo(f"Wrote {out}: {size / 1e6:.1f} MB, {METHOD}, in {time.perf_counter() - t0:.0f} s.")


COMMANDS: list[click.Command] = [ngram_build]
