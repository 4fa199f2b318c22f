"""`forecode tokenizer train`: learn a byte-level BPE from a corpus."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import click

from forecode.corpus.shards import iter_records, read_manifest
from forecode.tokenizer import train_tokenizer


@click.group()
def tokenizer() -> None:
    """Train and inspect tokenizers."""


def _sample_texts(corpus: Path, max_bytes: int, language: str | None) -> Iterator[str]:
    """Every k-th file, so the sample spans all packages rather than the first few."""
    total = int(read_manifest(corpus).get("totals", {}).get("bytes_kept", 0))
    stride = max(1, total // max_bytes)
    seen = 0
    for i, rec in enumerate(iter_records(corpus)):
        if i % stride or (language and rec.get("language") != language):
            continue
        yield rec["text"]
        seen += len(rec["text"])
        if seen >= max_bytes:
            return


@tokenizer.command("train")
@click.option("--corpus", required=True, type=click.Path(path_type=Path), help="Corpus folder from `forecode corpus build`.")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="tokenizer.json to write.")
@click.option("--vocab-size", type=click.IntRange(min=300), default=8192, show_default=True)
@click.option("--sample-mb", type=click.FloatRange(min=0.001), default=64.0, show_default=True, help="Text to learn merges from.")
@click.option("--language", default="python", show_default=True, help="Learn from this language only ('' for all).")
def train(corpus: Path, out: Path, vocab_size: int, sample_mb: float, language: str) -> None:
    """Learn merges from the corpus; special tokens (FIM, end of text, file separator) take ids 0-4."""
    t0 = time.time()
    tok = train_tokenizer(_sample_texts(corpus, int(sample_mb * 1e6), language or None), vocab_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(out)
    click.echo(f"Wrote {out}: {tok.vocab_size} tokens, learned in {time.time() - t0:.0f} s.")
