"""The store owns every SQL statement: no module outside bakeoff/store imports sqlite3, calls a
connection, or holds SQL text."""

from __future__ import annotations

import ast
import re

from conftest import ROOT

SRC = ROOT / "src" / "bakeoff"
SQL = re.compile(r"\b(SELECT\s[\s\S]*\sFROM|INSERT(\s+OR\s+\w+)?\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
                 r"|CREATE\s+(TABLE|INDEX|VIEW)|ALTER\s+TABLE|PRAGMA\s+\w+)\b")


def sql_outside_the_store() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.is_relative_to(SRC / "store"):
            continue
        where = path.relative_to(SRC.parent)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if "sqlite3" in names:
                    found.append(f"{where}:{node.lineno}: imports sqlite3")
            elif isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany", "executescript") \
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "conn":
                found.append(f"{where}:{node.lineno}: calls conn.{node.attr}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                found.append(f"{where}:{node.lineno}: SQL text {node.value[:60]!r}")
    return found


def test_no_sql_outside_the_store():
    assert sql_outside_the_store() == []
