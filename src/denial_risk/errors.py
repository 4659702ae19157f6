"""Errors that the CLI turns into exit codes instead of tracebacks.

A user's mistake (missing file, missing column, bad option) is a `UserError`:
exit 2, one line on stderr, no partial output. Files that could not be read
while the rest were written are a `PartialInputError`: exit 1.
"""


class UserError(Exception):
    """The user's mistake: one line naming the file, column or option (exit 2)."""

    exit_code = 2


class PartialInputError(Exception):
    """Done, but some input files could not be read (exit 1)."""

    exit_code = 1
