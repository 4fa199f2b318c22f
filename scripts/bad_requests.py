"""Send a running `forecode serve` twenty kinds of bad request; print each status and message,
then check the server is still healthy. Exit code 1 if any answer is not a 4xx JSON error or
the server is no longer healthy.

    forecode serve --port 8421 &   # in the folder whose files it may read
    .venv/bin/python scripts/bad_requests.py http://127.0.0.1:8421
"""

from __future__ import annotations

import json
import sys

import httpx

OK_BODY = {"prompt": "def add(a, b):\n    return ", "max_tokens": 8}
CODE = "/v1/code/completions"
CASES: list[tuple[str, str, str, bytes | dict[str, object] | None, dict[str, str]]] = [
    # (what, method, route, body: raw bytes or a JSON object, extra headers)
    ("malformed JSON", "POST", "/v1/completions", b'{"prompt": "x",', {}),
    ("invalid UTF-8", "POST", "/v1/completions", b'{"prompt": "\xff\xfe"}', {}),
    ("a JSON array, not an object", "POST", "/v1/completions", b"[1, 2]", {}),
    ("no prompt", "POST", "/v1/completions", {"max_tokens": 4}, {}),
    ("prompt of the wrong type", "POST", "/v1/completions", {"prompt": 42}, {}),
    ("max_tokens as a string", "POST", "/v1/completions", {**OK_BODY, "max_tokens": "5"}, {}),
    ("negative max_tokens", "POST", "/v1/completions", {**OK_BODY, "max_tokens": -3}, {}),
    ("negative temperature", "POST", "/v1/completions", {**OK_BODY, "temperature": -1}, {}),
    ("top_p above 1", "POST", "/v1/completions", {**OK_BODY, "top_p": 1.5}, {}),
    ("n too large", "POST", "/v1/completions", {**OK_BODY, "n": 100}, {}),
    ("empty stop string", "POST", "/v1/completions", {**OK_BODY, "stop": [""]}, {}),
    ("misspelt field", "POST", "/v1/completions", {**OK_BODY, "max_token": 4}, {}),
    ("echo, unsupported", "POST", "/v1/completions", {**OK_BODY, "echo": True}, {}),
    ("cursor past the end", "POST", CODE, {"text": "x = 1\n", "cursor": 999}, {}),
    ("neither text nor path", "POST", CODE, {"cursor": 0}, {}),
    ("workspace_root outside the roots", "POST", CODE, {"text": "x", "cursor": 1, "workspace_root": "/etc"}, {}),
    ("path escaping with ..", "POST", CODE, {"path": "../../../etc/passwd", "cursor": 0}, {}),
    ("not JSON at all (text/plain)", "POST", "/v1/completions", b"prompt=x", {"content-type": "text/plain"}),
    ("body too large", "POST", "/v1/completions", b'{"prompt": "' + b"x" * (5 << 20) + b'"}', {}),
    ("wrong method", "GET", "/v1/completions", None, {}),
    ("unknown route", "POST", "/v1/chat/nonsense", {}, {}),
]


def main(base: str) -> int:
    failures = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        for i, (what, method, route, body, headers) in enumerate(CASES, 1):
            if isinstance(body, bytes):
                r = client.request(method, route, content=body, headers={"content-type": "application/json", **headers})
            else:
                r = client.request(method, route, json=body, headers=headers)
            try:
                error = r.json()["error"]
                line = f"{error.get('type')}: {error.get('message')}"
            except (ValueError, KeyError, TypeError):
                error, line = None, r.text[:120]
            good = 400 <= r.status_code < 500 and error is not None and "Traceback" not in r.text
            failures += not good
            print(f"{i:2} {r.status_code} {'ok ' if good else 'BAD'} {what:34} {line[:150]}")
        health = client.get("/health")
        print(f"health after: {health.status_code} {json.dumps(health.json())}")
        ok = client.post("/v1/completions", json=OK_BODY)
        print(f"a good request after: {ok.status_code} {ok.json()['choices'][0]['text']!r}")
    return 1 if failures or health.status_code != 200 or ok.status_code != 200 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8421"))
