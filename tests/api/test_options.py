"""The post-processing options the servers take are the ones the completer knows."""

from __future__ import annotations

from forecode import completer
from forecode.api.options import POSTPROCESS, SECRETS, SECURITY
from forecode.completer import CompletionRequest


def test_the_servers_take_the_completers_options_each_of_which_it_accepts() -> None:
    assert POSTPROCESS == completer.POSTPROCESS
    for postprocess in POSTPROCESS:
        for secrets in SECRETS:
            for security in SECURITY:
                CompletionRequest("x = ", 4, postprocess=postprocess, secrets=secrets, security=security)



def test_the_servers_context_sources_are_the_completers() -> None:
    from forecode.api.options import CONTEXT_SOURCES
    from forecode.context.retrieval import SOURCES

    assert CONTEXT_SOURCES == SOURCES
