"""`forecode eval identifiers`: the positions, the document both sides see, the ranking, the report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cli_errors import one_line_error as _error
from engine.tiny_models import random_model

from forecode.cli import main
from forecode.completer import Completer, CompletionRequest
from forecode.engine.builtin import BuiltinEngine
from forecode.eval import identifiers as ev
from forecode.tokenizer import CodeTokenizer

SOURCE = '''\
import os.path
from . import sibling
from .mod import thing

RATE = 1.5 + .25 + 1e3
TEXT = "not.an_access"  # nor.this


class Box:
    def __init__(self, items):
        self.items = list(items)

    def joined(self):
        return ", ".join(os.path.basename(i) for i in self.items)

    def spaced(self):
        return self . items, f"{self.items}"


é = "é"; é.upper()
'''

EXPECTED = [
    ("self", "items"),       # self.items = ...
    ('", "', "join"),
    ("os", "path"),
    ("os.path", "basename"),
    ("self", "items"),       # in the generator
    ("self", "items"),       # inside the f-string (`self . items` is skipped)
    ("é", "upper"),          # after a two-byte character: ast's byte columns are converted
]


def test_attribute_sites_are_attribute_accesses_only() -> None:
    sites = ev.attribute_sites(SOURCE)
    assert [name for _, name in sites] == [name for _, name in EXPECTED]
    for (offset, name), (obj, _) in zip(sites, EXPECTED):
        assert SOURCE[offset - 1] == "."
        assert SOURCE[offset : offset + len(name)] == name
        assert SOURCE[: offset - 1].endswith(obj)
    names = {name for _, name in sites}
    assert not names & {"sibling", "thing", "mod", "an_access", "this"}


def test_unparseable_source_has_no_sites() -> None:
    assert ev.attribute_sites("def broken(:\n    x.y\n") == []


def test_the_document_has_the_name_deleted_at_the_cursor() -> None:
    text = "import os\nprint(os.getcwd())\nos.getcwd\n"
    offset, name = ev.attribute_sites(text)[0]
    site = ev.Site(Path("t.py"), "t.py", offset, name)
    doc = site.document(text)
    assert doc == "import os\nprint(os.())\nos.getcwd\n"  # only this occurrence is removed
    assert doc[:offset].endswith("os.") and not doc[offset:].startswith("getcwd")
    assert site.task_id(text) == "t.py:2:10"


def test_line_column_counts_code_points() -> None:
    text = "a = '😀漢'; b = a.\n"
    assert ev.line_column(text, len(text) - 1) == (1, len("a = '😀漢'; b = a."))
    assert ev.line_column("x\r\ny\rz", 6) == (3, 1)  # \r\n and a lone \r both end a line


def test_jedi_completes_after_wide_characters(tmp_path: Path) -> None:
    path = tmp_path / "wide.py"
    doc = 'label = "😀 漢字"; shout = label.\n'
    candidates = ev.JediCompleter()(doc, doc.index("label.") + len("label."), path)
    assert "upper" in candidates and "encode" in candidates
    assert candidates.index("upper") < candidates.index("__class__")  # jedi's order: dunders last


def test_rank_puts_the_highest_score_first_and_keeps_ties_in_order() -> None:
    assert ev.rank(["a", "b", "c", "d"], [-3.0, -1.0, -2.0, -1.0]) == ["b", "d", "c", "a"]
    with pytest.raises(ValueError, match="3 candidates but 2 scores"):
        ev.rank(["a", "b", "c"], [0.0, 0.0])


class FakeJedi:
    def __init__(self, names: list[str], fail: bool = False) -> None:
        self.names, self.fail = names, fail

    def __call__(self, document: str, cursor: int, path: Path) -> list[str]:
        if self.fail:
            raise RuntimeError("inference crashed")
        return self.names


def length_scorer(seen: list[list[str]]) -> ev.Scorer:
    """Prefers longer names: a deterministic scorer that disagrees with jedi's order."""

    def score(document: str, cursor: int, names: Sequence[str]) -> list[float]:
        assert document[cursor - 1] == "."
        seen.append(list(names))
        return [float(len(n)) for n in names]

    return score


TEXT = "items = []\nitems.append(1)\n"
SITE = ev.Site(Path("t.py"), "t.py", TEXT.index("append"), "append")


def test_evaluate_site_ranks_jedis_candidates_with_the_scorer() -> None:
    seen: list[list[str]] = []
    rec = ev.evaluate_site(SITE, TEXT, FakeJedi(["append", "clear", "extend", "__class__"]), length_scorer(seen))
    assert seen == [["append", "clear", "extend", "__class__"]]
    assert rec["model_top"] == ["__class__", "append", "extend", "clear"]
    assert (rec["jedi_rank"], rec["model_rank"]) == (0, 1)
    assert rec["task_id"] == "t.py:2:7" and rec["name"] == "append"


def test_only_the_first_candidates_are_scored() -> None:
    seen: list[list[str]] = []
    names = ["a", "bb", "ccc", "append"]
    rec = ev.evaluate_site(SITE, TEXT, FakeJedi(names), length_scorer(seen), max_candidates=3)
    assert seen == [["a", "bb", "ccc"]]
    assert (rec["jedi_rank"], rec["model_rank"], rec["scored"], rec["jedi_candidates"]) == (3, None, 3, 4)


def test_no_or_failing_jedi_means_a_miss_for_both() -> None:
    for jedi in (FakeJedi([]), FakeJedi(["append"], fail=True)):
        rec = ev.evaluate_site(SITE, TEXT, jedi, length_scorer([]))
        assert (rec["jedi_rank"], rec["model_rank"], rec["jedi_candidates"]) == (None, None, 0)
    assert "inference crashed" in rec["error"]


def test_summarize() -> None:
    def rec(jedi_rank: int | None, model_rank: int | None, candidates: int = 10) -> dict[str, Any]:
        return {"jedi_rank": jedi_rank, "model_rank": model_rank, "jedi_candidates": candidates,
                "scored": candidates, "jedi_ms": 1.0, "model_ms": 3.0}

    m = ev.summarize([rec(0, 3), rec(7, 0), rec(60, None), rec(None, None, 0)])
    assert (m["top1"], m["top5"], m["jedi_top1"], m["jedi_top5"]) == (0.25, 0.5, 0.25, 0.25)
    assert (m["positions"], m["jedi_empty"], m["truth_in_candidates"], m["truth_in_jedi"]) == (4, 0.25, 0.5, 0.75)
    assert m["ms_per_position"] == 4.0


def test_sampling_is_deterministic_and_nested(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"m{i}.py").write_text("".join(f"x{j}.attr_{i}_{j}\n" for j in range(8)))
    (tmp_path / "notes.txt").write_text("a.b\n")
    files = ev.python_files([tmp_path])
    assert [label for _, label in files] == [f"{tmp_path.name}/m{i}.py" for i in range(3)]
    small, large = ev.sample_sites(files, 5, seed=3), ev.sample_sites(files, 12, seed=3)
    assert small == ev.sample_sites(files, 5, seed=3)
    assert len(small) == 5 and len(large) == 12 and set(small) <= set(large)
    assert small != ev.sample_sites(files, 5, seed=4)
    assert len(ev.sample_sites(files, 100, seed=0)) == 24


def test_model_scorer_uses_the_completers_prompt(tiny_tokenizer_path: Path, tiny_tokenizer: CodeTokenizer) -> None:
    engine = BuiltinEngine(random_model(tiny_tokenizer_path), tiny_tokenizer)
    doc = "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json.(f)\n"
    cursor = doc.index("json.(") + len("json.")
    scorer = ev.ModelScorer(engine, "name")
    prompt, backed_off = scorer.prompt(doc, cursor)
    debug = Completer(engine).complete(CompletionRequest(doc, cursor)).debug
    assert tiny_tokenizer.decode(prompt) == debug["prompt"]
    assert len(prompt) == debug["prompt_tokens"]
    assert backed_off == debug["healed"]

    names = ["load", "loads", "dump"]
    plain = scorer(doc, cursor, names)
    expected = engine.score(prompt, [tiny_tokenizer.encode(backed_off + n) for n in names])
    assert plain == pytest.approx(expected, abs=1e-5)
    with_end = ev.ModelScorer(engine, "name+eot")(doc, cursor, names)
    mean = ev.ModelScorer(engine, "mean")(doc, cursor, names)
    for n, p, e, m in zip(names, plain, with_end, mean):
        assert e < p  # one more token can only lower the log-probability
        assert m == pytest.approx(e / (len(tiny_tokenizer.encode(backed_off + n)) + 1))



def test_bad_sources_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "source folder " + str(tmp_path / "nope") + " does not exist" in _error(
        ["eval", "identifiers", "--source", str(tmp_path / "nope")], capsys)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("a.b\n")
    assert "has no Python files" in _error(["eval", "identifiers", "--source", str(tmp_path / "empty")], capsys)
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "m.py").write_text("x = 1\n")
    assert "no attribute accesses" in _error(["eval", "identifiers", "--source", str(tmp_path / "flat")], capsys)
    assert "is not a folder" in _error(["eval", "identifiers", "--source", str(tmp_path / "flat" / "m.py")], capsys)


PROJECT = '''\
class Counter:
    def __init__(self):
        self.count = 0

    def increment(self):
        self.count += 1
        return self.count


def total(words):
    counter = Counter()
    for word in words:
        counter.increment()
    return counter.count, " ".join(words).upper()
'''


@pytest.mark.slow
def test_end_to_end_with_the_embedded_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "proj"
    src.mkdir()
    (src / "counter.py").write_text(PROJECT)
    out = tmp_path / "samples.jsonl"
    argv = ["eval", "identifiers", "--source", str(src), "--limit", "3", "--threads", "1", "--json", "--out", str(out)]
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert metrics["positions"] == 3
    fractions = ("top1", "top5", "jedi_top1", "jedi_top5", "jedi_empty", "truth_in_candidates")
    assert all(0.0 <= metrics[k] <= 1.0 for k in fractions)  # fractions, not percent
    assert metrics["truth_in_candidates"] > 0  # jedi knows this file's attributes
    samples = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(samples) == 3 and all(s["name"] in PROJECT for s in samples)

    assert main(argv) == 0  # resumes: nothing new is scored, the same numbers come out
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == metrics
    assert len(out.read_text().splitlines()) == 3

    err = _error([*argv, "--scoring", "mean"], capsys)  # samples of other settings are not mixed in
    assert "scoring=name" in err and "scoring=mean" in err
