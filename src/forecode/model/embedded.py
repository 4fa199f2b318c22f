"""The model that ships inside the package, so a fresh install completes code offline."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from forecode.errors import CheckpointError

EMBEDDED_NAME = "forecode-tiny"


def embedded_model_path() -> Path:
    path = Path(str(resources.files("forecode") / "models" / EMBEDDED_NAME))
    if not (path / "model.safetensors").is_file():
        raise CheckpointError(f"the embedded model is missing from {path}; reinstall forecode or pass --model")
    return path
