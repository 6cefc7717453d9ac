"""Errors that reach the user as one clear line and exit code 2 (bad input)."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a suite file, a spec string, a path.

    Printed as ``file:line: message`` when the place is known, never as a traceback.
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}: {self.message}"
        if self.file:
            return f"{self.file}: {self.message}"
        return self.message
