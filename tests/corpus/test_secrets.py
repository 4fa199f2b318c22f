from __future__ import annotations

import pytest

from forecode.corpus.secrets import redact_secrets

AWS_ID = "AKIA" + "ABCDEFGHIJKLMNOP"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
SLACK = "xoxb-" + "123456789012-abcdefghijkl"
GOOGLE = "AIza" + "SyA1234567890abcdefghijklmnopqrstuv"
OPENAI = "sk-" + "proj-abcdefghijklmnopqrstuvwx1234"
JWT = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0." + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
KEY_BODY = "MIIEowIBAAKCAQEA7bq8secretkeymaterial"

SECRETS: list[tuple[str, str, str]] = [
    ("private_key", f"-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----\n", KEY_BODY),
    ("aws_access_key", f'key_id = "{AWS_ID}"\n', AWS_ID),
    ("aws_secret_key", f'aws_secret_access_key = "{AWS_SECRET}"\n', AWS_SECRET),
    ("github_token", f'TOKEN = "{GITHUB}"\n', GITHUB),
    ("slack_token", f'hook({SLACK!r})\n', SLACK),
    ("google_api_key", f'maps({GOOGLE!r})\n', GOOGLE),
    ("api_key", f'client = Client({OPENAI!r})\n', OPENAI),
    ("jwt", f'header = "Bearer {JWT}"\n', JWT),
    ("connection_password", 'DB = "postgresql://alice:Tr0ub4dor3@db.example.com:5432/app"\n', "Tr0ub4dor3"),
    ("secret", 'db_password = "hunter2hunter2"\n', "hunter2hunter2"),
]

# Every secret above, as it should be kept around its placeholder.
SECRET_VALUES = [value for _, _, value in SECRETS]


@pytest.mark.parametrize(("kind", "text", "value"), SECRETS)
def test_each_secret_kind_is_redacted_and_counted(kind: str, text: str, value: str) -> None:
    redacted, counts = redact_secrets(text)
    assert value not in redacted
    assert f"<REDACTED_{kind.upper()}>" in redacted
    assert counts == {kind: 1}


def test_connection_string_keeps_scheme_user_and_host() -> None:
    redacted, _ = redact_secrets('url = "redis://bob:s3cr3tpw@cache.local/0"')
    assert redacted == 'url = "redis://bob:<REDACTED_CONNECTION_PASSWORD>@cache.local/0"'


@pytest.mark.parametrize(
    "text",
    [
        "password = getpass()\n",
        'password = ""\n',
        'password = "changeme"\n',
        'if token == "abcdefghijk":\n    pass\n',
        'tokenizer_name = "gpt2-tokenizer"\n',
        "url = 'https://example.com/path'\n",
    ],
)
def test_ordinary_code_is_not_redacted(text: str) -> None:
    assert redact_secrets(text) == (text, {})
