"""The privacy guard: find secrets in what would be sent, and redact them before a cloud contender
sees the repository.

detect-secrets scans through its Python API with its default plugins (AWS keys, private keys,
GitHub tokens, high-entropy strings, keywords, ...). Its API never verifies a key over the
network (its CLI can; bakeoff never runs it). A redaction names its file, line and type, never
the secret.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bakeoff.errors import InputError

_BEGIN_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
_END_KEY = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")


@dataclass(frozen=True)
class Redaction:
    path: str
    line: int
    kind: str  # detect-secrets' type, e.g. "AWS Access Key"

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.kind})"


def scan_secrets(texts: dict[str, str]) -> list[tuple[Redaction, str]]:
    """(where, secret) for each secret detect-secrets finds in the files' texts."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    found = []
    with tempfile.TemporaryDirectory(prefix="bakeoff-scan-") as tmp, default_settings():
        for rel, text in texts.items():
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            secrets = SecretsCollection(root=tmp)
            secrets.scan_file(rel)
            for _, secret in secrets:
                found.append((Redaction(rel, secret.line_number, secret.type), secret.secret_value or ""))
    return sorted(found, key=lambda f: (f[0].path, f[0].line, f[0].kind))


def redact(texts: dict[str, str]) -> tuple[dict[str, str], list[Redaction]]:
    """The texts with every secret replaced by ``[REDACTED: type]`` (a private key: its whole
    block), and where each was."""
    found = scan_secrets(texts)
    out = dict(texts)
    by_file: dict[str, list[tuple[Redaction, str]]] = {}
    for r, value in found:
        by_file.setdefault(r.path, []).append((r, value))
    for path, items in by_file.items():
        lines = out[path].split("\n")
        for r, value in items:
            i = r.line - 1
            if not 0 <= i < len(lines):
                continue
            label = f"[REDACTED: {r.kind}]"
            if _BEGIN_KEY.search(lines[i]):
                j = i
                while j < len(lines) and not _END_KEY.search(lines[j]):
                    j += 1
                for k in range(i, min(j + 1, len(lines))):
                    lines[k] = label if k == i else ""
            elif value and value in lines[i]:
                lines[i] = lines[i].replace(value, label)
            else:  # no value to cut out exactly: the whole line goes
                lines[i] = label
        out[path] = "\n".join(lines)
    return out, [r for r, _ in found]


def cloud_specs(specs) -> list[str]:
    """The contenders whose backend sends requests to a cloud API."""
    from bakeoff.backends import get_backend

    return [s.canonical for s in specs if getattr(get_backend(s.backend), "runs_in", "") == "cloud"]


def guard(specs, allow_cloud: bool) -> list[str]:
    """Refuse to send a repository to a cloud contender unless the user said so."""
    cloud = cloud_specs(specs)
    if cloud and not allow_cloud:
        raise InputError(f"{', '.join(cloud)} {'is a cloud contender' if len(cloud) == 1 else 'are cloud contenders'}: "
                         "bakeoff repo sends your repository's files only with --allow-cloud (secrets are then "
                         "redacted first, and each redaction listed)")
    return cloud
