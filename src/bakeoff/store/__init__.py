"""The results database: SQLite, the source of truth; reports are views of it."""

from bakeoff.store.db import Database

__all__ = ["Database"]
