"""bakeoff.suite.repo.privacy directly: secrets found and cut out of the texts (never a whole
file, never the secret in the report), and the guard that keeps a repository from a cloud
contender unless the user allows it."""

from __future__ import annotations

import pytest

from bakeoff.errors import InputError
from bakeoff.spec import parse_spec
from bakeoff.suite.repo.privacy import guard, redact

AWS = "AKIAIOSFODNN7EXAMPLE"
SETTINGS = f'import os\n\nAWS_ACCESS_KEY_ID = "{AWS}"\nREGION = "eu-west-1"\nDEBUG = os.getenv("DEBUG")\n'
PEM = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
       "QyNTUxOQAAACDmZ3cE1VQ3ZmVjbWV6dlhJZk5kUkJ5R0hZQ2JMbnZPN2d3NmtHAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
       "after the key\n")


def test_a_key_is_replaced_in_its_line_and_the_rest_of_the_file_is_kept():
    texts = {"config/settings.py": SETTINGS, "README.md": "Run `make` to build.\n"}
    out, found = redact(texts)
    assert [str(r) for r in found] == ["config/settings.py:3 (AWS Access Key)"]
    lines = out["config/settings.py"].split("\n")
    assert lines[2] == 'AWS_ACCESS_KEY_ID = "[REDACTED: AWS Access Key]"'
    assert lines[3] == 'REGION = "eu-west-1"' and lines[4] == 'DEBUG = os.getenv("DEBUG")'
    assert out["README.md"] == texts["README.md"]


def test_a_private_key_block_goes_whole():
    out, found = redact({"deploy/id_ed25519": PEM})
    assert [(r.line, r.kind) for r in found] == [(1, "Private Key")]
    assert out["deploy/id_ed25519"].split("\n") == ["[REDACTED: Private Key]", "", "", "", "after the key", ""]


def test_clean_code_is_left_alone():
    code = "def area(r):\n    return 3.14159 * r * r\n"
    assert redact({"geometry.py": code}) == ({"geometry.py": code}, [])


def test_the_guard_refuses_cloud_contenders_without_permission():
    local = parse_spec("smollm2-135m")
    cloud = parse_spec("openai:gpt-4o-mini")
    assert guard([local], allow_cloud=False) == []
    with pytest.raises(InputError, match="openai:gpt-4o-mini is a cloud contender.*--allow-cloud"):
        guard([local, cloud], allow_cloud=False)
    assert guard([local, cloud], allow_cloud=True) == ["openai:gpt-4o-mini"]
