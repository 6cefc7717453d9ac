"""The results database: SQLite, the source of truth; reports are views of it. Every SQL
statement of bakeoff is in this package (see ``bakeoff.store.db``)."""

from bakeoff.store.db import Database, DatabaseError, OperationalError

__all__ = ["Database", "DatabaseError", "OperationalError"]
