"""Errors a user can act on.

Every error raised for bad input is a :class:`HandoffError`: its message says what is wrong
and its ``hint`` what to do. The CLI prints both on one line and exits non-zero, without a
traceback; the Python API lets them propagate so notebooks can catch them.
"""

from __future__ import annotations


class HandoffError(Exception):
    """Base class for errors caused by input or environment, not by a bug."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and the hint on one line, as the CLI prints them."""
        text = self.message.rstrip(".")
        return f"{text}. {self.hint}" if self.hint else text


class InputError(HandoffError):
    """An input file or folder is missing, unreadable or of the wrong kind."""

    exit_code = 2


class VideoError(InputError):
    """A video cannot be opened or decoded."""


class ModelError(HandoffError):
    """A pose model is missing, corrupt or cannot be fetched."""


class OutputError(HandoffError):
    """An output location cannot be written."""


class ConfigError(InputError):
    """A settings file or option value is invalid."""


class NoPersonError(HandoffError):
    """The pose stage found nobody in the video."""
