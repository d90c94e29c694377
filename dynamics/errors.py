"""The user-error hierarchy shared by every command (one line on stderr, exit status 2).

Everything a user can get wrong — a config, a number, an option, a file, a
resource limit — raises a subclass of :class:`UserError`. The command-line
entry points (:func:`dynamics.cli.run_main`) catch exactly these (and
``OSError``) and print ``prog: error: <message>``; any other exception is a bug
and keeps its traceback.

``InputError`` and its subclasses are also ``ValueError`` so that library code
written against the earlier ``ValueError`` contract keeps working.
"""

from __future__ import annotations

__all__ = ["UserError", "InputError", "LimitError"]


class UserError(Exception):
    """A failure caused by the user's input or request; ``str(error)`` is one line.

    The message is normalised on construction: any run of whitespace in it
    (a newline inside a quoted key or path included) becomes one space.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(" ".join(str(message).split()), *args)


class InputError(UserError, ValueError):
    """Bad input: a malformed value, an unknown option value, an unreadable or invalid file."""


class LimitError(InputError):
    """A resource limit of the input contract (size, digits, depth, memory) would be exceeded.

    Raised *before* the work starts; the message names the limit and, where
    there is one, the option that raises it.
    """
