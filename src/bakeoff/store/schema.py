"""The schema of a fresh results database, written out whole: ``docs/schema.sql``.

The migrations add it up piece by piece (``trials`` alone from seven of them); this prints it as
SQLite holds it once every migration ran, one column per line with the migration's own comment,
each column a later migration added marked with that migration's name. Tables come in the order
the migrations created them, each followed by its indexes. A test compares the file with a fresh
database::

    python -m bakeoff.store.schema > docs/schema.sql
"""

from __future__ import annotations

import inspect
import re
import sqlite3

from bakeoff.store.migrations import MIGRATIONS, migrate

HEADER = """\
-- The schema of a fresh bakeoff results database: every migration in
-- src/bakeoff/store/migrations.py applied, as SQLite holds it, one column per line.
-- "(mNNN)" names the migration that added a column to an existing table.
-- Generated: python -m bakeoff.store.schema > docs/schema.sql (a test checks it is current).
"""

# A column's comment in an ALTER TABLE of a migration ("-- ..." in SQL, "# ..." after Python).
_ALTER = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)(?:(?!--|#)[^;\n])*;?[^\S\n]*(?:(?:--|#)[^\S\n]*(.*))?")


def _columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


def history() -> tuple[dict[str, str], dict[str, str], dict[tuple[str, str], str]]:
    """Which migration created each table, which rebuilt one (a new table renamed over it), and
    which added each column to an existing table by ALTER TABLE."""
    conn = sqlite3.connect(":memory:")
    created: dict[str, str] = {}
    rebuilt: dict[str, str] = {}
    added: dict[tuple[str, str], str] = {}
    migrate(conn, [])  # only the _migrations table: migrate's own, not a migration's
    before = _columns(conn)
    for i, (name, _) in enumerate(MIGRATIONS):
        migrate(conn, MIGRATIONS[:i + 1])
        after = _columns(conn)
        for table, cols in after.items():
            if table not in before:
                created.setdefault(table, name)
            elif cols[:len(before[table])] != before[table]:
                rebuilt[table] = name
                added = {k: v for k, v in added.items() if k[0] != table}
            else:
                added.update({(table, col): name for col in cols[len(before[table]):]})
        before = after
    conn.close()
    return created, rebuilt, added


def _creation_order(table: str, migration: str | None) -> tuple[int, int, str]:
    """Tables in the order the migrations create them (``_migrations`` first)."""
    if migration is None:
        return (-1, 0, table)
    index = [name for name, _ in MIGRATIONS].index(migration)
    source = inspect.getsource(MIGRATIONS[index][1])
    at = source.find(f"CREATE TABLE {table} ")
    return (index, at if at >= 0 else len(source), table)


def alter_comments() -> dict[tuple[str, str], str]:
    """The comment each migration wrote beside an ALTER TABLE ... ADD COLUMN, by (table, column)."""
    out = {}
    for _, fn in MIGRATIONS:
        for table, column, comment in _ALTER.findall(inspect.getsource(fn)):
            if comment:
                out[(table, column)] = comment.strip()
    return out


def _split_definitions(body: str) -> list[tuple[str, str]]:
    """A CREATE TABLE's parenthesised body as (definition, comment) pairs. A comment after a
    definition's comma (on the lines before the next one) is that definition's."""
    items: list[list[str]] = [["", ""]]
    depth, i, quote = 0, 0, ""
    while i < len(body):
        ch = body[i]
        if quote:
            items[-1][0] += ch
            quote = "" if ch == quote else quote
        elif body.startswith("--", i):
            end = body.find("\n", i)
            end = len(body) if end < 0 else end
            text = body[i + 2:end].strip()
            owner = items[-2] if not items[-1][0].strip() and len(items) > 1 else items[-1]
            owner[1] = f"{owner[1]} {text}".strip()
            i = end
            continue
        elif ch in "'\"`":
            quote = ch
            items[-1][0] += ch
        elif ch == "(":
            depth += 1
            items[-1][0] += ch
        elif ch == ")":
            depth -= 1
            items[-1][0] += ch
        elif ch == "," and depth == 0:
            items.append(["", ""])
        else:
            items[-1][0] += ch
        i += 1
    return [(" ".join(code.split()), comment) for code, comment in items if code.strip()]


def _table_sql(name: str, sql: str, added: dict[tuple[str, str], str], notes: dict[tuple[str, str], str]) -> str:
    body = sql[sql.index("(") + 1:sql.rindex(")")]
    lines = []
    definitions = _split_definitions(body)
    for n, (code, comment) in enumerate(definitions):
        column = code.split()[0].strip('"')
        by = added.get((name, column))
        if by:
            comment = " ".join(filter(None, [f"({by})", comment or notes.get((name, column), "")]))
        text = f"    {code}{',' if n < len(definitions) - 1 else ''}"
        lines.append(f"{text:<44}-- {comment}" if comment else text)
    return f"CREATE TABLE {name} (\n" + "\n".join(lines) + "\n);"


def schema_sql(conn: sqlite3.Connection) -> str:
    """The schema of ``conn``'s database (migrated by the current MIGRATIONS), normalised."""
    created, rebuilt, added = history()
    notes = alter_comments()
    objects = list(conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"))
    tables = sorted((o for o in objects if o[0] == "table"), key=lambda o: _creation_order(o[1], created.get(o[1])))
    out = [HEADER.rstrip("\n")]
    for _, name, _, sql in tables:
        origin = created.get(name, "bakeoff.store.migrations.migrate")
        if name in rebuilt:
            origin += f", rebuilt by {rebuilt[name]}"
        out.append("")
        out.append(f"-- {name}: {origin}")
        out.append(_table_sql(name, sql, added, notes))
        for _, _, _, index_sql in sorted((o for o in objects if o[0] == "index" and o[2] == name), key=lambda o: o[1]):
            out.append(" ".join(index_sql.split()) + ";")
    for kind in ("view", "trigger"):
        for _, _, _, sql in sorted((o for o in objects if o[0] == kind), key=lambda o: o[1]):
            out.append("")
            out.append(sql.strip() + ";")
    return "\n".join(out) + "\n"


def fresh_schema() -> str:
    """The schema of a database created now (in memory, every migration applied)."""
    conn = sqlite3.connect(":memory:")
    try:
        migrate(conn)
        return schema_sql(conn)
    finally:
        conn.close()


if __name__ == "__main__":
    print(fresh_schema(), end="")
