"""`forecode export --format gguf|hf`: the model for llama.cpp, or for Hugging Face transformers."""

from __future__ import annotations

import time
from pathlib import Path

import click

from forecode.errors import InputError

FORMATS = ("gguf", "hf")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _gguf_summary(path: Path) -> str:
    import gguf

    reader = gguf.GGUFReader(path)
    counts: dict[str, int] = {}
    for t in reader.tensors:
        counts[t.tensor_type.name.lower()] = counts.get(t.tensor_type.name.lower(), 0) + 1
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    n_keys = sum(not k.startswith("GGUF.") for k in reader.fields)  # the header shows up as GGUF.* fields
    return f"{len(reader.tensors)} tensors ({kinds}), {n_keys} metadata keys"


def _hf_summary(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(path / "model.safetensors"), framework="numpy") as f:
        n_tensors = len(list(f.keys()))
    files = ", ".join(sorted(p.name for p in path.iterdir()))
    return f"{n_tensors} tensors; {files}"


@click.command()
@click.option("--format", "fmt", required=True, help="gguf (llama.cpp) or hf (a transformers folder).")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="Checkpoint folder (default: the embedded forecode-tiny).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The .gguf file, or the folder, to write.")
@click.option("--dtype", default=None, help="gguf weights: f32 (default), f16 or q8_0.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def export(fmt: str, model_path: Path | None, out: Path, dtype: str | None, force: bool) -> None:
    """Export a checkpoint for other runtimes (see docs/EXPORT.md)."""
    from forecode.model.embedded import embedded_model_path

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    folder = model_path or embedded_model_path()
    t0 = time.perf_counter()
    if fmt == "gguf":
        from forecode.model.export_gguf import export_gguf

        export_gguf(folder, out, dtype or "f32", overwrite=force, progress=True)
        summary = _gguf_summary(out)
        size = out.stat().st_size
    else:
        if dtype is not None:
            raise InputError(f"--dtype {dtype} applies to --format gguf only; the hf export keeps the checkpoint's weights")
        from forecode.model.export_hf import export_hf

        export_hf(folder, out, overwrite=force)
        summary = _hf_summary(out)
        size = sum(p.stat().st_size for p in out.iterdir())
    click.echo(f"Wrote {out} ({_size(size)}) from {folder} in {time.perf_counter() - t0:.1f} s: {summary}.")
