"""A bounded fuzzing run of the post-processing pipeline (hypothesis, many examples).

    .venv/bin/python scripts/fuzz_postprocess.py --examples 20000

Documents, cursors and raw suggestions are drawn from code-like pieces, unicode and arbitrary
text; every run checks that the pipeline does not raise, returns a string, and never returns text
that only repeats what follows the cursor. Prints the examples run, the time and the result.
"""

from __future__ import annotations

import argparse
import sys
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecode.postprocess.candidate import Context
from forecode.postprocess.pipeline import run_pipeline
from forecode.postprocess.suffix_overlap import merely_repeats_suffix

PIECES = ["def f(x):\n", "    return x\n", "if a:", "\n", "    ", "\t", "(", ")", "[", "]", "{", "}", "'", '"', '"""',
          "#", "//", "/*", "x = 1", "é", "漢字", "🙂", "\\", ":", ",", ";", "password = 'hunter22'", "eval(s)",
          "subprocess.run(c, shell=True)", "AKIAIOSFODNN7EXAMPLE", "\r\n", "\x00", "\ud800"]
code = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=30).map("".join)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    count = 0

    @settings(max_examples=args.examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(document=code, raw=code, data=st.data())
    def fuzz(document: str, raw: str, data: st.DataObject) -> None:
        nonlocal count
        count += 1
        cursor = data.draw(st.integers(0, len(document)))
        language = data.draw(st.sampled_from(["python", "javascript", "text"]))
        policy = data.draw(st.sampled_from(["report", "filter"]))
        out = run_pipeline(raw, Context(document[:cursor], document[cursor:], language, security=policy))
        assert isinstance(out.text, str)
        assert not merely_repeats_suffix(out.text, document[cursor:])

    t0 = time.perf_counter()
    import random

    random.seed(args.seed)
    try:
        fuzz()
    except Exception as exc:  # noqa: BLE001 - the report is the point
        print(f"FAILED after {count} examples in {time.perf_counter() - t0:.1f}s: {exc!r}")
        return 1
    print(f"passed: {count} examples in {time.perf_counter() - t0:.1f}s, no exception, no suffix repeat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
