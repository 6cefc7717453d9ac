"""Built-in read-only repository tools for agent loops: list files, read a file by line range,
search text. Each works inside one directory and refuses to leave it: absolute paths, ``..``
that climbs out, and symlinks that point outside are refused (the target is resolved, then must
lie under the root), so a model can be asked about a codebase without seeing the rest of the disk.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

MAX_LIST = 500  # entries listed at most
MAX_READ_LINES = 400
MAX_MATCHES = 100


class ToolRefused(Exception):
    """The request is not allowed (outside the root, not a file, ...): the model is told why."""


REPO_TOOLS: list[dict[str, Any]] = [
    {"name": "list_files", "description": "List the files under a directory of the repository (recursive).",
     "parameters": {"type": "object", "properties": {
         "path": {"type": "string", "description": "directory relative to the repository root; '.' for the root"}},
         "required": []}},
    {"name": "read_file", "description": "Read a text file of the repository, optionally a range of lines (1-based, inclusive).",
     "parameters": {"type": "object", "properties": {
         "path": {"type": "string", "description": "file path relative to the repository root"},
         "start_line": {"type": "integer", "minimum": 1},
         "end_line": {"type": "integer", "minimum": 1}},
         "required": ["path"]}},
    {"name": "search_text", "description": "Search the repository's files for a text (a regular expression); "
                                           "returns path:line: text for each match.",
     "parameters": {"type": "object", "properties": {
         "pattern": {"type": "string"},
         "path": {"type": "string", "description": "directory to search in, relative to the root; default the root"}},
         "required": ["pattern"]}},
]


class RepoTools:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve(strict=True)

    def inside(self, relative: str | None, want_dir: bool | None = None) -> Path:
        """The resolved path of ``relative`` if it lies inside the root, else ToolRefused."""
        text = (relative or ".").strip() or "."
        if os.path.isabs(text) or text.startswith("~"):
            raise ToolRefused(f"{text!r}: absolute paths are not allowed; give a path relative to the repository root")
        target = (self.root / text).resolve()  # follows symlinks, so a link out is caught below
        if target != self.root and self.root not in target.parents:
            raise ToolRefused(f"{text!r} is outside the repository")
        if not target.exists():
            # Say what is there, so a model that guessed a path can correct itself.
            near = target.parent if self.root in target.parent.parents or target.parent == self.root else self.root
            while not near.exists():
                near = near.parent
            entries = sorted(p.name + ("/" if p.is_dir() else "") for p in near.iterdir() if not p.name.startswith(".") and self._safe(p))
            where = "the repository root" if near == self.root else repr(str(near.relative_to(self.root)))
            raise ToolRefused(f"{text!r} does not exist; {where} holds: {', '.join(entries[:30]) or 'nothing'}")
        if want_dir is True and not target.is_dir():
            raise ToolRefused(f"{text!r} is not a directory")
        if want_dir is False and not target.is_file():
            raise ToolRefused(f"{text!r} is not a file")
        return target

    def _files(self, top: Path) -> list[Path]:
        out = []
        for dirpath, dirnames, filenames in os.walk(top):  # os.walk does not follow directory links
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and self._safe(Path(dirpath, d)))
            out += [Path(dirpath, f) for f in sorted(filenames) if self._safe(Path(dirpath, f))]
        return out

    def _safe(self, path: Path) -> bool:
        resolved = path.resolve()
        return resolved == self.root or self.root in resolved.parents

    def list_files(self, path: str = ".") -> str:
        top = self.inside(path, want_dir=True)
        files = [str(p.relative_to(self.root)) for p in self._files(top)]
        more = f"\n... and {len(files) - MAX_LIST} more" if len(files) > MAX_LIST else ""
        return "\n".join(files[:MAX_LIST]) + more if files else "(no files)"

    def read_file(self, path: str, start_line: int = 1, end_line: int | None = None) -> str:
        target = self.inside(path, want_dir=False)
        lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
        start = max(1, int(start_line))
        end = min(len(lines), int(end_line) if end_line else start + MAX_READ_LINES - 1, start + MAX_READ_LINES - 1)
        if start > len(lines):
            return f"(the file has {len(lines)} lines)"
        return "\n".join(f"{n}: {lines[n - 1]}" for n in range(start, end + 1))

    def search_text(self, pattern: str, path: str = ".") -> str:
        top = self.inside(path, want_dir=True)
        try:
            rx = re.compile(pattern)
        except re.error:
            rx = re.compile(re.escape(pattern))  # small models write regex-unsafe text; search it literally
        hits = []
        for file in self._files(top):
            try:
                text = file.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for n, line in enumerate(text.splitlines(), 1):
                if rx.search(line):
                    hits.append(f"{file.relative_to(self.root)}:{n}: {line.strip()[:200]}")
                    if len(hits) >= MAX_MATCHES:
                        return "\n".join(hits) + "\n... (more matches)"
        return "\n".join(hits) if hits else "(no matches)"

    def functions(self) -> dict[str, Any]:
        return {"list_files": self.list_files, "read_file": self.read_file, "search_text": self.search_text}
